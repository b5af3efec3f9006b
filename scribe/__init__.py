"""scribe: a keyboard-driven terminal writing studio that co-writes with language models."""

__version__ = "0.1.0"
