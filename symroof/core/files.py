"""Writing files so that a crash never leaves a half-written one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import InputError


class PathError(InputError, OSError):
    """An output path this system cannot (or should not) create: one sentence for the user, and still an
    OSError to code that falls back when a write fails (the derivation cache derives in memory)."""


#: The most folders a write makes for its file: a deeper path is a slip (``a/a/a/.../x.csv``), not a plan.
MAX_NEW_FOLDERS = 64


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def shown(path: str | Path) -> str:
    """A path as an error names it: whole when short, else its start and end with its length."""
    text = str(path)
    return text if len(text) <= 100 else f"{text[:40]}...{text[-40:]} ({len(text):,} characters)"


def _missing(path: Path) -> tuple[Path, list[Path]]:
    """The deepest existing folder above ``path`` and the folders below it that do not exist yet, outermost first.

    A loop, not recursion: ``Path.mkdir(parents=True)`` recurses once per missing level and overflows Python's
    stack on a path a thousand folders deep.
    """
    chain = [*reversed(path.absolute().parents)]
    base = chain[0]
    for i, folder in enumerate(chain[1:], start=1):
        try:
            exists = folder.exists()
        except OSError:
            exists = False
        if not exists:
            return base, chain[i:]
        if not folder.is_dir():
            raise PathError(f"cannot write {shown(path)}: {shown(folder)} is a file, not a folder")
        base = folder
    return base, []


def check_target(path: str | Path) -> Path:
    """Refuse, before any work, an output path this system cannot or should not create: one with a name longer
    than the system's limit, under a file, MAX_NEW_FOLDERS folders deeper than what exists, longer than the
    system's path limit, or a folder."""
    path = Path(path)
    try:
        limit, name_limit = os.pathconf("/", "PC_PATH_MAX"), os.pathconf("/", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # not POSIX: Linux's limits
        limit, name_limit = 4096, 255
    size = len(os.fsencode(str(path.absolute())))
    long = next((part for part in path.parts if len(os.fsencode(part)) > name_limit), None)
    if long is not None:
        raise PathError(f"cannot write {shown(path)}: the name {shown(long)} is over this system's limit of "
                         f"{name_limit} bytes")
    new = len(_missing(path)[1])
    if new > MAX_NEW_FOLDERS:
        raise PathError(f"cannot write {shown(path)}: it would make {new:,} nested folders, more than the "
                         f"{MAX_NEW_FOLDERS} made for one file; make the folders first, or choose a shallower path")
    if size >= limit:
        raise PathError(f"cannot write {shown(path)}: the path is {size:,} bytes long, over this system's limit of "
                         f"{limit:,}; choose a shorter one")
    if path.is_dir():
        raise PathError(f"cannot write {shown(path)}: it is a folder; name a file")
    return path


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    On any failure the temporary file and the folders made for it are removed and ``path`` is left as it was.
    """
    path = check_target(path)
    made: list[Path] = []
    try:
        for folder in _missing(path)[1]:
            folder.mkdir()
            made.append(folder)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        _remove(made)
        raise OSError(exc.errno, exc.strerror, str(path)) from None  # name the user's file, not ours
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        _remove(made)
        if exc.filename in (tmp, None):
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        _remove(made)
        raise


def _remove(folders: list[Path]) -> None:
    """Remove the folders a failed write made, innermost first (each only if still empty)."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            break


def write_text_atomically(data: str | bytes, path: Path) -> None:
    """Text (UTF-8) or bytes to ``path``, atomically."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(payload))
