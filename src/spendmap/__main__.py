"""`python -m spendmap`: the same command line as the `spendmap` script."""

from spendmap.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
