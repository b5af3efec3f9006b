"""Training: corpus reading and trainers."""
