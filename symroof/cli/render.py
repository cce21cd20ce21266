"""One renderer for the command line's tables: every value in the unit a reader expects, aligned by tabulate.

The text of each value (the unit chosen through pint, the number to three
significant digits, dollars with separators, ``none`` for a cap that never
binds, yes/no) is :mod:`symroof.evaluation.text`'s, shared with the notebook's
HTML tables and the notes; this module lays the values out in tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from ..evaluation.text import LADDERS, NO_CAP, SYMBOLS, dollars, is_no_cap, number, quantity, value_text

__all__ = ["LADDERS", "NO_CAP", "SYMBOLS", "dollars", "is_no_cap", "number", "quantity", "sections", "table",
           "value_text"]


def table(rows: Sequence[Sequence[str]], align: Sequence[str], headers: Sequence[str] = ()) -> list[str]:
    """``rows`` aligned into lines (``align``: "left" or "right" per column), trailing spaces dropped."""
    text = tabulate([list(r) for r in rows], headers=list(headers), tablefmt="plain", disable_numparse=True,
                    colalign=list(align), preserve_whitespace=True)
    return [line.rstrip() for line in text.splitlines()]


def sections(parts: Sequence[tuple[str, Sequence[Sequence[str]]]], align: Sequence[str],
             headers: Sequence[str] = (), indent: str = "  ") -> list[str]:
    """Titled sections of rows aligned as one table (the same column widths in every section), a blank line
    before each title; ``headers`` (if any) head the first section."""
    parts = [(title, rows) for title, rows in parts if rows]
    lines = table([r for _, rows in parts for r in rows], align, headers)
    out: list[str] = []
    if headers:
        out.append(indent + lines[0])
        lines = lines[1:]
    at = 0
    for title, rows in parts:
        out += ["", title] if out else [title]
        out += [indent + line for line in lines[at:at + len(rows)]]
        at += len(rows)
    return out
