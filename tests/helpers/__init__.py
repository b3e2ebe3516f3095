"""Test helpers shared by tests and benchmarks (fast file writers)."""
