"""Fetch and read: the only code that knows the layouts of published files."""
