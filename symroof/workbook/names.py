"""Valid Excel defined names.

openpyxl validates none of this. Excel names are case-insensitive, start with
a letter or underscore, hold letters, digits, ``_`` and ``.``, must not look
like a cell reference in A1 style (columns run to XFD, so ``H100``, ``TP8``,
``HBM3`` and ``LOG2`` are cells) or R1C1 style, and ``R``/``C`` are reserved.
"""

from __future__ import annotations

import re

from ..core.errors import SymroofError

LAST_COLUMN = 16384  # XFD
LAST_ROW = 1048576
_A1 = re.compile(r"^([A-Za-z]{1,3})(\d+)$")
_R1C1 = re.compile(r"^[Rr](\d*)([Cc](\d*))?$|^[Cc](\d*)$")
_CHARS = re.compile(r"^[A-Za-z_\\][A-Za-z0-9_.]*$")


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid Excel defined name, or None."""
    if not name or len(name) > 255:
        return "must have 1 to 255 characters"
    if not _CHARS.match(name):
        return "must start with a letter or underscore and hold only letters, digits, _ and ."
    a1 = _A1.match(name)
    if a1 and _column_number(a1.group(1)) <= LAST_COLUMN and 1 <= int(a1.group(2)) <= LAST_ROW:
        return "looks like a cell reference"
    if _R1C1.match(name):
        return "looks like an R1C1 reference (R and C are reserved)"
    if name.upper() in ("TRUE", "FALSE"):
        return "is a boolean constant"
    return None


def check_names(names) -> None:
    """Raise unless every name is valid and no two differ only in case."""
    seen: dict[str, str] = {}
    for name in names:
        problem = name_problem(name)
        if problem:
            raise SymroofError(f"{name!r} cannot be an Excel defined name: it {problem}")
        other = seen.setdefault(name.lower(), name)
        if other != name:
            raise SymroofError(f"Excel defined names {other!r} and {name!r} collide (names ignore case)")
