"""Servers the tests start on 127.0.0.1: a Hugging Face hub and an OpenAI-compatible completions server."""
