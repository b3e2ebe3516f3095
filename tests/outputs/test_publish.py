"""The output folder: replaced only when spendmap made it; everything else refused with nothing touched."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from spendmap.errors import InputError
from spendmap.outputs.publish import (
    OUTPUT_MARKER,
    STAGING_MARKER,
    check_out_dir,
    discard_staging,
    is_spendmap_folder,
    publish,
    remove_stale_staging,
    start_staging,
)
from tests.helpers.users import open_folder, without_root

REPO_OUTPUTS = Path(__file__).resolve().parents[2] / "outputs"


def _run_into(out: Path, files: dict[str, str]) -> Path:
    staging = start_staging(out)
    for name, text in files.items():
        (staging / name).write_text(text)
    return publish(staging, out)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_new_folder_is_marked_with_normal_permissions(tmp_path):
    out = tmp_path / "outputs"
    old_umask = os.umask(0o022)
    try:
        _run_into(out, {"index.html": "new"})
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755  # not mkdtemp's 0700
    assert sorted(p.name for p in out.iterdir()) == [OUTPUT_MARKER, "index.html"]
    assert is_spendmap_folder(out)
    assert [p.name for p in tmp_path.iterdir()] == ["outputs"]  # no staging or retired folder left


def test_spendmap_folder_is_replaced_and_keeps_its_readme(tmp_path):
    out = _run_into(tmp_path / "outputs", {"stale.csv": "old"})
    (out / "README.md").write_text("kept")
    _run_into(out, {"index.html": "new"})
    assert sorted(p.name for p in out.iterdir()) == [OUTPUT_MARKER, "README.md", "index.html"]
    assert (out / "README.md").read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["outputs"]


def test_folder_with_a_spendmap_manifest_counts_as_spendmap_s(tmp_path):
    out = tmp_path / "old_run"
    out.mkdir()
    (out / "run_manifest.json").write_text(json.dumps({"spendmap_run": {"started": "2026-01-01"}}))
    assert check_out_dir(out) == out.resolve()
    (out / "run_manifest.json").write_text(json.dumps({"something": "else"}))
    with pytest.raises(InputError):
        check_out_dir(out)


def test_users_folder_is_refused_and_untouched(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_text("years of work")
    before = _tree(out)
    with pytest.raises(InputError, match="spendmap did not make, and it is not empty"):
        check_out_dir(out)
    staging = start_staging(out)  # a run that got as far as publishing is refused there too
    with pytest.raises(InputError):
        publish(staging, out)
    assert _tree(out) == before and not staging.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]


def test_empty_folder_is_used(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    _run_into(out, {"index.html": "x"})
    assert (out / "index.html").is_file()


def test_file_device_home_and_root_are_refused(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    for target, why in ((a_file, "is not a folder"), (Path("/dev/null"), "is not a folder"),
                        (Path.home(), "home folder"), (Path("/"), "root of the file system")):
        with pytest.raises(InputError, match=why):
            check_out_dir(target)
    assert a_file.read_text() == "mine" and [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert Path("/dev/null").is_char_device()


def test_unwritable_parent_is_refused():
    folder = open_folder()
    try:
        locked = folder / "locked"
        locked.mkdir(mode=0o555)
        with without_root(), pytest.raises(InputError, match="not writable"):
            check_out_dir(locked / "out")
        assert list(locked.iterdir()) == []
    finally:
        shutil.rmtree(folder)


def test_repo_outputs_folder_is_spendmap_s():
    """`make run` on a fresh clone: the committed outputs/ (README.md and marker) may be replaced."""
    assert sorted(p.name for p in REPO_OUTPUTS.iterdir() if p.name in ("README.md", OUTPUT_MARKER)) == [
        OUTPUT_MARKER, "README.md"]
    assert is_spendmap_folder(REPO_OUTPUTS)


def test_stale_marked_staging_is_removed_unmarked_kept(tmp_path):
    out = tmp_path / "outputs"
    # A run killed with kill -9: its marked staging folder, with the pid of a process now gone.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    stale = tmp_path / f".outputs.partial-{pid}-deadbeef"
    (stale / "_work").mkdir(parents=True)
    (stale / STAGING_MARKER).write_text(f"{pid}\n")
    (stale / "_work" / "big.parquet").write_bytes(b"x" * 1000)
    # A user's folder that merely looks like one: no mark, kept.
    lookalike = tmp_path / f".outputs.partial-{pid}-cafe"
    lookalike.mkdir()
    (lookalike / "mine.txt").write_text("keep")
    # A live run's staging folder (this process's parent is alive): kept.
    live = tmp_path / f".outputs.partial-{os.getppid()}-beef"
    live.mkdir()
    (live / STAGING_MARKER).write_text(f"{os.getppid()}\n")
    assert remove_stale_staging(out) == [stale]
    assert not stale.exists() and (lookalike / "mine.txt").is_file() and live.is_dir()
    staging = start_staging(out)
    discard_staging(staging)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([lookalike.name, live.name])


def test_a_run_that_does_not_reconcile_is_not_published(tmp_path):
    out = _run_into(tmp_path / "outputs", {"index.html": "old"})
    staging = start_staging(out)
    (staging / "index.html").write_text("new")
    manifest = {"spendmap_run": {}, "reconciliation": {"ok": False}}
    (staging / "run_manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(Exception, match="does not reconcile"):
        publish(staging, out)
    assert (out / "index.html").read_text() == "old" and not staging.exists()
