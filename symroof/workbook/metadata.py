"""The hidden ``_symroof`` sheet: what symroof generated, written and read in one place.

It records the workbook's origin (model, chip, template, rules), one row per
generated cell (its kind, the quantity it holds, the value an input was
generated with and whether that value was a planner's edit carried over by
``--keep-inputs``), and a digest of every row of every sheet as written, so a
later export can tell exactly what a planner changed or added.

The column schema is :data:`COLUMNS`; rows are read back by column name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..core.errors import SymroofError

SHEET = "_symroof"
INFO = ("generator", "model", "hardware", "template", "rules", "overrides", "calibration", "engine")
COLUMNS = ("sheet", "cell", "kind", "name", "detail", "generated value", "kept edit")
DIGEST_HEADER = "digests"


@dataclass(frozen=True)
class CellInfo:
    """What a generated cell holds, for checks and for carrying a planner's edits."""

    sheet: str
    cell: str
    kind: str  # input, rule, derived, elasticity, sweep, sweep_input, sweep_fits, helper, status
    name: str
    detail: str = ""  # elasticity: the input; sweep: the batch-size cell
    generated: object = None  # inputs: the value written (JSON-able)
    kept: bool = False  # inputs: the value was a planner's edit carried over


def normal(value) -> str:
    """A cell's content as openpyxl reads it back, in one canonical text (for digests)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(float(value))
    text = str(value)
    if text.startswith("="):
        text = text.replace("_xlfn.", "").replace(" ", "")
    return text


def row_digest(cells: list[tuple[int, object]]) -> str:
    """A short digest of one row's cells ``[(column, content), ...]`` (empty cells left out)."""
    parts = [f"{c}:{normal(v)}" for c, v in sorted(cells) if normal(v) != ""]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12] if parts else ""


def write(ws, info: dict, cells: list[CellInfo], digests: dict[str, dict[int, str]], text) -> None:
    """Fill the metadata sheet ``ws``; ``text(ws, row, col, value)`` writes one cell as text."""
    row = 0
    for key in INFO:
        text(ws, row, 0, key)
        value = info.get(key, "")
        text(ws, row, 1, value if isinstance(value, str) else json.dumps(value))
        row += 1
    row += 1
    text(ws, row, 0, DIGEST_HEADER)
    row += 1
    for sheet, rows in digests.items():
        text(ws, row, 0, sheet)
        text(ws, row, 1, json.dumps({str(r): d for r, d in sorted(rows.items()) if d}, separators=(",", ":")))
        row += 1
    row += 1
    for col, head in enumerate(COLUMNS):
        text(ws, row, col, head)
    for c in cells:
        row += 1
        for col, value in enumerate((c.sheet, c.cell, c.kind, c.name, c.detail)):
            text(ws, row, col, value)
        if c.generated is not None:
            text(ws, row, 5, json.dumps(c.generated))
        if c.kept:
            text(ws, row, 6, "yes")


@dataclass
class Recorded:
    """A symroof workbook's metadata as read back."""

    info: dict[str, str]
    cells: list[CellInfo]
    digests: dict[str, dict[int, str]]


def cell_map(wb) -> list[CellInfo]:
    """The generated cells recorded in a workbook's metadata sheet."""
    return read(wb).cells


def meta(wb) -> dict[str, str]:
    """The origin of a symroof workbook (model, hardware, template, generator, rules, overrides)."""
    return read(wb).info


def read(wb) -> Recorded:
    """The metadata of an openpyxl workbook; :class:`SymroofError` if it is not a symroof workbook."""
    if SHEET not in wb.sheetnames:
        raise SymroofError("not a symroof workbook (no metadata sheet)")
    rows = [tuple(r) for r in wb[SHEET].iter_rows(values_only=True)]
    info: dict[str, str] = {}
    digests: dict[str, dict[int, str]] = {}
    cells: list[CellInfo] = []
    part, header = "info", None
    for r in rows:
        first = r[0] if r else None
        if first is None:
            continue
        if part == "info" and first == DIGEST_HEADER:
            part = "digests"
            continue
        if first == COLUMNS[0] and tuple(r[:len(COLUMNS)])[:5] == COLUMNS[:5]:
            part, header = "cells", {name: i for i, name in enumerate(r) if name}
            continue
        if part == "info":
            info[first] = r[1] if len(r) > 1 else None
        elif part == "digests":
            digests[first] = {int(k): v for k, v in json.loads(r[1] or "{}").items()}
        else:
            row = {col: r[i] for col, i in header.items() if i < len(r)}
            generated = row.get("generated value")
            cells.append(CellInfo(row.get("sheet"), row.get("cell"), row.get("kind"), row.get("name") or "",
                                  row.get("detail") or "", json.loads(generated) if generated is not None else None,
                                  row.get("kept edit") == "yes"))
    if header is None:
        raise SymroofError("not a symroof workbook (its metadata sheet has no cell map)")
    return Recorded(info, cells, digests)
