"""Test and benchmark aids shipped with spendmap: generated (synthetic) registers and fast writers."""
