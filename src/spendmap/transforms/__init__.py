"""Pure transforms over canonical tables: no Prefect, no file or network I/O."""
