"""spendmap: map UK central-government grant flows into places."""

__version__ = "0.1.0"
