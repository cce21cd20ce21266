"""The derivation cache on disk: where it lives, its key, reading it back whole or not at all.

A built wheel ships the derivation of its own sources (``symroof/_derived/``,
written by ``setup.py`` at build time through :func:`symroof.derive.build.ship`),
so the first command after ``pip install`` derives nothing; it is read only when
its key equals the key of the installed sources, else the user cache is.
One folder per key in the user cache (``$SYMROOF_CACHE``, else
``$XDG_CACHE_HOME/symroof``, else ``~/.cache/symroof``): ``model.json``
(every :class:`~symroof.runtime.spec.Spec` as data, the groups, each
threshold's closed form) and ``functions.py`` (the generated numpy
functions; Python caches their bytecode beside them). The key is a hash of
the sources the cache is derived from and the sympy version, so an edited
declaration or another sympy never reads a stale cache; a file that is
incomplete or damaged is never trusted. This module reads and writes; it
never derives (:mod:`symroof.derive` does) and never imports sympy.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType

from ..core.files import write_text_atomically
from ..core.numeric import NAMESPACE
from .spec import Spec, Table

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: two first uses may both derive (each writes atomically)
    fcntl = None

PACKAGE = Path(__file__).resolve().parent.parent
#: The layout of the cache; bump it when the record or the files change shape.
FORMAT = 4
#: What the cache is derived from: change any of these and it is derived again.
SOURCES = (
    "declare",
    "model",
    "derive",
    "printing",
    "core/numeric.py",
    "core/units.txt",
    "core/units.py",
    "runtime/spec.py",
    "runtime/store.py",
)
RECORD, FUNCTIONS = "model.json", "functions.py"
#: Where a built wheel keeps the derivation of its sources (absent from a checkout and an editable install).
SHIPPED = PACKAGE / "_derived"


def _sympy_version() -> str:
    """sympy's version, read from its files (importing sympy would cost the start-up it saves)."""
    found = importlib.util.find_spec("sympy")
    if found is None or not found.origin:
        return "none"
    try:
        return Path(found.origin).with_name("release.py").read_text(encoding="utf-8").strip()
    except OSError:
        return "unknown"


@cache
def key() -> str:
    """Hash of the deriving sources, the cache format and the sympy version."""
    h = hashlib.sha256(f"format {FORMAT}\n{_sympy_version()}\n".encode())
    for entry in SOURCES:
        path = PACKAGE / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(PACKAGE)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def cache_folder() -> Path:
    """Where derivation caches are kept: ``$SYMROOF_CACHE``, else ``$XDG_CACHE_HOME/symroof``."""
    if os.environ.get("SYMROOF_CACHE"):
        return Path(os.environ["SYMROOF_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "symroof"


def folder(want: str, base: Path | None = None) -> Path:
    """The folder of key ``want`` in the user cache (or under ``base``: the shipped derivations)."""
    return (cache_folder() if base is None else base) / f"model-{want[:20]}"


def functions_module(source: str, name: str) -> ModuleType:
    """The generated functions compiled from their source (when the cache could not be written)."""
    module = ModuleType(name)
    module.__dict__.update(NAMESPACE)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - source symroof printed itself
    return module


def _functions_file(path: Path, name: str) -> ModuleType | None:
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        module.__dict__.update(NAMESPACE)
        spec.loader.exec_module(module)
        return module
    except Exception:  # noqa: BLE001 - a damaged cache is derived again, whatever is wrong with it
        return None


def table_from(record: dict, module: ModuleType) -> Table | None:
    """The table of a record and its functions, or None unless both are whole and of the same key."""
    try:
        if (
            record.get("format") != FORMAT
            or record.get("complete") is not True
            or getattr(module, "KEY", None) != record.get("key")
            or getattr(module, "COMPLETE", False) is not True
        ):
            return None
        specs = [Spec.from_data(d) for d in record["specs"]]
        if len(specs) != record["count"] or not all(hasattr(module, f) for s in specs for f in s.code.values()):
            return None
        return Table(specs, record["groups"], module, record["key"], record.get("closed_forms"))
    except Exception:  # noqa: BLE001 - anything odd in a cache file means: do not trust it
        return None


@cache
def load(want: str) -> Table | None:
    """The table of key ``want``: the one shipped in the package if its key matches and it is whole, else the
    user cache's, else None."""
    found = _read(folder(want, SHIPPED), want)
    return found if found is not None else _read(folder(want), want)


def _read(where: Path, want: str) -> Table | None:
    try:
        record = json.loads((where / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("key") != want:
        return None
    module = _functions_file(where / FUNCTIONS, f"symroof_derived_{want[:12]}")
    return None if module is None else table_from(record, module)


def save(want: str, record: dict, functions: str, base: Path | None = None) -> Path | None:
    """Write a derivation (the functions first, the record last: a record means both are whole) into the user
    cache, or under ``base`` (a wheel's build folder).

    Returns the folder, or None where nothing can be written (a read-only home).
    """
    where = folder(want, base)
    try:
        write_text_atomically(functions, where / FUNCTIONS)
        write_text_atomically(json.dumps(record, separators=(",", ":")), where / RECORD)
    except OSError:
        return None
    load.cache_clear()
    return where


@contextlib.contextmanager
def building(want: str) -> Iterator[None]:
    """Hold the cache's lock while deriving, so a second process waits and then reads the first's result."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    lock = None
    try:
        folder(want).mkdir(parents=True, exist_ok=True)
        lock = (folder(want) / "lock").open("w")
        fcntl.flock(lock, fcntl.LOCK_EX)
    except OSError:
        lock = None  # nothing writable: derive in memory, unlocked
    try:
        yield
    finally:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()


def closed_forms() -> dict[str, str]:
    """Each solved threshold's closed form (sympy srepr) from a fresh cache; empty when there is none."""
    found = load(key())
    return found.closed_forms if found is not None else {}


def say(text: str) -> None:
    """One line of progress on standard error."""
    print(f"symroof: {text}", file=sys.stderr, flush=True)
