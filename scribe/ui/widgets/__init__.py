"""The TUI's widgets: editor, stream view, settings panel, status bar."""
