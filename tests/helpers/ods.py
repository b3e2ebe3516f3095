"""The fast ODS writer for tests now lives in the package (spendmap.testing.spreadsheets)."""

from spendmap.testing.spreadsheets import write_ods

__all__ = ["write_ods"]
