"""Sampling: parameters (params.py) and the one sampler every backend uses (sampler.py)."""
