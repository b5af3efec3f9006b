"""The Textual app: one client of the headless core."""
