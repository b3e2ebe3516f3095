"""The output folder: checked before a run, written beside it, swapped in whole, never someone else's.

`--out` is replaced only when spendmap made it: it holds OUTPUT_MARKER or a spendmap run manifest.
Everything else (a non-empty folder of the user's, a file, a device, a folder holding an input, the
home folder, `/`) is refused before the run starts, with nothing touched. A run writes into a marked
staging folder `.NAME.partial-PID-XXXX` beside `--out`; a later run removes such folders only when
they carry the mark and their process is gone. Ctrl-C and SIGTERM remove this run's staging folders,
stop Prefect's temporary server, and exit without publishing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from spendmap.errors import InputError, SpendmapError
from spendmap.sources.cache import pid_alive

OUTPUT_MARKER = ".spendmap-output"  # in every folder spendmap publishes (and the repo's outputs/)
STAGING_MARKER = ".spendmap-staging"  # in every staging folder; holds the writing process id
MANIFEST_NAME = "run_manifest.json"
WORK_DIR_NAME = "_work"
KEPT_FILES = ("README.md",)  # carried from the old output folder into the new one
_EFFECTIVE = os.access in os.supports_effective_ids  # the permissions the process will really have

_MARKER_TEXT = (
    "This folder was written by spendmap. `spendmap run --out` replaces a folder only when it holds\n"
    "this file or a spendmap run_manifest.json; anything you add here is deleted by the next run.\n"
)

# Staging folders of this process, removed on Ctrl-C/SIGTERM.
_active: set[Path] = set()
_published: Path | None = None  # set once the swap is done, for the message if a signal was held


def is_spendmap_folder(folder: Path) -> bool:
    """True when `folder` holds spendmap's marker or a run manifest spendmap wrote."""
    if (folder / OUTPUT_MARKER).is_file():
        return True
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        return False
    try:
        return "spendmap_run" in json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def _refuse(out_dir: Path, why: str) -> InputError:
    return InputError(
        f"--out {out_dir} {why} spendmap replaces only a folder it made itself (one holding "
        f"{OUTPUT_MARKER} or its {MANIFEST_NAME}), an empty folder, or a path that does not exist yet. "
        "Nothing was changed: choose a new folder name with --out."
    )


def check_out_dir(out_dir: Path | str, inputs: Iterable[Path | str] = ()) -> Path:
    """The resolved output folder, or InputError (exit 2) when publishing there could lose anything.

    `inputs` are the local files the run reads: --out may not be one of them, hold one or sit above one.
    """
    given = Path(out_dir).expanduser()
    target = given.resolve()
    if target == Path(target.anchor):
        raise _refuse(given, "is the root of the file system.")
    if target == Path.home().resolve():
        raise _refuse(given, "is your home folder.")
    for src in inputs:
        src_path = Path(src).expanduser().resolve()
        if src_path == target or target in src_path.parents:
            raise _refuse(given, f"holds an input of this run ({src}), which publishing would delete.")
    if target.exists():
        if not target.is_dir():
            raise _refuse(given, "exists and is not a folder (it is a file, a device or a link to one).")
        if any(target.iterdir()) and not is_spendmap_folder(target):
            raise _refuse(given, "is a folder spendmap did not make, and it is not empty.")
        if not os.access(target, os.W_OK | os.X_OK, effective_ids=_EFFECTIVE):
            raise _refuse(given, "is not writable.")
    parent = next((p for p in target.parents if p.exists()), Path(target.anchor))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK, effective_ids=_EFFECTIVE):
        raise InputError(
            f"--out {given}: its parent folder {parent} is not writable, so the output cannot be written "
            "there. Nothing was changed: choose a folder you can write to with --out."
        )
    return target


# --- staging ------------------------------------------------------------------------------------------


def remove_stale_staging(out_dir: Path) -> list[Path]:
    """Remove staging (and retired) folders beside out_dir left by killed runs; only marked ones."""
    removed = []
    prefix = f".{out_dir.name}."
    for entry in out_dir.parent.iterdir():
        if not entry.name.startswith(prefix):
            continue
        kind, _, rest = entry.name[len(prefix):].partition("-")
        if kind not in ("partial", "old") or not entry.is_dir() or entry.is_symlink():
            continue
        marked = (entry / STAGING_MARKER).is_file() if kind == "partial" else is_spendmap_folder(entry)
        pid = rest.split("-", 1)[0]
        if not marked or not pid.isdigit() or (int(pid) != os.getpid() and pid_alive(int(pid))):
            continue
        if entry in _active:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _marked_folder(parent: Path, name: str, kind: str) -> Path:
    # os.mkdir honours the umask (mkdtemp would make it 0700, and publishing keeps that mode).
    while True:
        path = parent / f".{name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def start_staging(out_dir: Path | str) -> Path:
    """A fresh marked folder beside out_dir; the run writes there and `publish` swaps it in."""
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out_dir)
    staging = _marked_folder(out_dir.parent, out_dir.name, "partial")
    (staging / STAGING_MARKER).write_text(f"{os.getpid()}\n", encoding="utf-8")
    (staging / WORK_DIR_NAME).mkdir()
    _active.add(staging)
    return staging


def discard_staging(staging: Path) -> None:
    _active.discard(Path(staging))
    shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C/SIGTERM wait until the folder swap is done, so it never stops half way."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (ValueError, OSError):  # not the main thread: no signal is delivered here anyway
        held = set()
    try:
        yield
    finally:
        if held:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def _check_reconciled(staging: Path) -> None:
    """A manifest whose reconciliation failed is never published, whoever calls publish."""
    manifest = staging / MANIFEST_NAME
    if manifest.is_file():
        ok = json.loads(manifest.read_text(encoding="utf-8")).get("reconciliation", {}).get("ok")
        if ok is False:
            raise SpendmapError("The run does not reconcile (see run_manifest.json): nothing was published.")


def publish(staging: Path, out_dir: Path | str) -> Path:
    global _published
    """Replace out_dir with the completed staging folder (keeping a README.md already there).

    out_dir is checked again (the run may have taken minutes): if it is no longer a folder spendmap
    may replace, the staging folder is discarded and nothing is published.
    """
    staging = Path(staging)
    try:
        out_dir = check_out_dir(out_dir)
        _check_reconciled(staging)
    except SpendmapError:
        discard_staging(staging)
        raise
    shutil.rmtree(staging / WORK_DIR_NAME, ignore_errors=True)
    for name in KEPT_FILES:
        kept = out_dir / name
        if kept.is_file() and not (staging / name).exists():
            shutil.copy2(kept, staging / name)
    (staging / OUTPUT_MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
    (staging / STAGING_MARKER).unlink()
    with _signals_held():
        if out_dir.exists():
            retired = _marked_folder(out_dir.parent, out_dir.name, "old")
            retired.rmdir()
            out_dir.rename(retired)
            staging.rename(out_dir)
            _active.discard(staging)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(out_dir)
            _active.discard(staging)
        _published = out_dir
    return out_dir


# --- interruption -------------------------------------------------------------------------------------

EXIT_INTERRUPTED = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _stop_prefect_server() -> None:
    """Stop Prefect's temporary API server (a uvicorn child process) if this process started one."""
    server = sys.modules.get("prefect.server.api.server")
    if server is None:
        return
    # Prefect keeps its running temporary servers in this class attribute; stop() terminates the child.
    for instance in list(getattr(server.SubprocessASGIServer, "_instances", {}).values()):
        try:
            instance.stop()
        except Exception:  # noqa: BLE001 - exiting anyway; a failed stop must not hide the message
            pass


def _on_signal(signum: int, _frame: object) -> None:
    for staging in list(_active):
        shutil.rmtree(staging, ignore_errors=True)
    _stop_prefect_server()
    outcome = (f"the run had just published {_published}" if _published is not None
               else "no output was published")
    print(f"spendmap: {signal.Signals(signum).name} received: stopped; {outcome}.", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit, not an exception: Prefect would otherwise report the crash to its (possibly already
    # stopped) server and retry for minutes.
    os._exit(EXIT_INTERRUPTED[signal.Signals(signum)])


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While a run is going: Ctrl-C or SIGTERM stops it promptly, publishes nothing, leaves no child."""
    global _published
    _published = None
    previous = {}
    for signum in EXIT_INTERRUPTED:
        try:
            previous[signum] = signal.signal(signum, _on_signal)
        except ValueError:  # not the main thread (e.g. inside a test runner's worker)
            pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
