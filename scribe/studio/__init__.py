"""Headless writing state: documents and the autosave journal."""
