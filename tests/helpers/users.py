"""Run a block without root's power to ignore file permissions, so permission errors can be tested."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NOBODY = 65534


@contextmanager
def without_root() -> Iterator[None]:
    """As root: the effective uid becomes nobody's for the block (the real uid stays, to switch back)."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)


def open_folder() -> Path:
    """A fresh folder anyone may enter (pytest's tmp_path is 0700, which nobody could not even stat)."""
    folder = Path(tempfile.mkdtemp(prefix="spendmap-perm-"))
    folder.chmod(0o755)
    return folder
