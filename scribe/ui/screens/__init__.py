"""Modal dialogs: recover unsaved text, save under a name, confirm quitting with unsaved changes."""
