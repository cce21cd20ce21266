"""The comparison workbook: several chips side by side at the same traffic and service level.

One sheet, one row per quantity, one column per chip and mode (every chip's
bound, then every chip's estimate), so a chart can read a row. Each cell is
the quantity's own declared formula, printed over the cells of its column
(:func:`symroof.lower.excel_expr`, the one lowering path), so a planner's
edit to a shared input (column C: the model, the traffic, the targets) or a
chip's own (its price, its bandwidth) recomputes every chip exactly as
``symroof plan`` does. Below the columns, a chart of cost per million output
tokens; on a second sheet, a tornado of the exact elasticities of the
cheapest chip's cost per million tokens, live too.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from .. import search
from ..core.errors import InputError
from ..core.files import atomic_write
from ..core.version import __version__
from ..declare import REGISTRY, Kind
from ..derive import table
from ..derive.lower import excel_expr, in_reporting_units, numeric
from ..engine_settings import ENGINE
from ..evaluation import FORMULA, RULE, Evaluation
from ..planner import compare
from ..sensitivity import elasticities, elasticity_formulas
from . import formats as F
from . import metadata
from .blanks import blank_notes, formula_cells, reasons
from .cells import Book
from .rows import blank_input, cell_value, guarded, noted, number_format
from .template import TemplateError, _folder

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SHEET, TORNADO_SHEET = "Comparison", "Tornado"
FIRST_ROW, NAME_COL, UNIT_COL, SHARED_COL, FIRST_COL = 6, 0, 1, 2, 3
LAYOUT_ROW = 5  # each chip's layout in words (the search's choice)
NOT_SHARED = ("batch_size", "prefill_replicas", "n_chips")  # each chip's plan holds its own


def load_template(ref: str = "comparison") -> dict:
    """The comparison template's data: results to show first, the charted quantity, the tornado's."""
    path = Path(ref) if ref.endswith(".toml") else _folder() / f"{ref}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a byte-order mark (Windows editors) is read
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(f"{path}: cannot read a comparison template ({exc})") from None
    if data.get("kind") != "comparison":
        raise InputError(f"--compare writes the comparison template; {ref!r} is not one (kind = \"comparison\")")
    for name in [*data.get("results", []), data.get("chart"), data.get("tornado")]:
        table().get(name)  # an unknown name is a clear error
    return data


def _closure(ev: Evaluation, names: list[str]) -> list[str]:
    """Every quantity ``names`` need, through formulas, default rules and the conditions they require."""
    seen: dict[str, None] = {}

    def visit(name: str) -> None:
        if name in seen:
            return
        s = ev.table.specs[name]
        if s.kind == "constant":
            return
        seen[name] = None
        for d in (*s.deps, *s.requires):
            visit(d)

    for n in names:
        visit(n)
    return list(seen)


def _shared(columns: list[Evaluation], rows: list[str]) -> list[str]:
    """Inputs every column takes alike from the model or the scenario: one cell for all chips."""
    out = []
    for name in rows:
        s = columns[0].table.specs[name]
        if s.kind != "input" or s.group not in ("model", "scenario") or name in NOT_SHARED:
            continue
        if any(e.provenance.get(name) == RULE or name in e.unavailable for e in columns):
            continue
        values = [e.magnitude(name) for e in columns]
        if all(v == values[0] for v in values):
            out.append(name)
    return out


def write_comparison(plans: list, template: dict, filename: str, overrides: Mapping[str, Any]) -> None:
    """Write the comparison of ``plans`` (symroof.planner.Plan, cheapest first) to ``filename``."""
    columns = [(p.hardware, mode, p.evaluations[mode]) for mode in ("bound", "estimate") for p in plans]
    evs = [e for _, _, e in columns]
    first = evs[0]
    results = list(template["results"])
    rows = list(dict.fromkeys([*results, *_closure(first, [*results, template["tornado"]])]))
    rows = [r for r in rows if all(r in e.base or r in e.unavailable for e in evs)]
    shared_order = _shared(evs, rows)  # in row order: a workbook is the same bytes whatever the hash seed
    shared = set(shared_order)
    book = Book(first, evs[len(plans)], _Plain(), filename)
    row_of = {name: FIRST_ROW + i + (1 if name not in results else 0) for i, name in enumerate(rows)}
    book.where = {name: (SHEET, r) for name, r in row_of.items()}
    ws = book.wb.add_worksheet(SHEET)
    ws.set_column(NAME_COL, NAME_COL, 34)
    ws.set_column(UNIT_COL, UNIT_COL, 13)
    ws.set_column(SHARED_COL, FIRST_COL + len(columns), 15)
    model = first.model.name
    book.put(ws, 0, 0, f"{model}: chips compared at the same traffic and service level", book.fmt(F.TITLE))
    book.put(ws, 1, 0, template.get("description", ""), book.fmt(F.NOTE))
    sheet_note = next((s.get("note", "") for s in template.get("sheet", [])), "")
    book.put(ws, 2, 0, sheet_note, book.fmt(F.NOTE))
    head = book.fmt(F.HEAD)
    book.put(ws, 3, NAME_COL, "quantity", head)
    book.put(ws, 3, UNIT_COL, "unit", head)
    book.put(ws, 3, SHARED_COL, "all chips", head)
    book.put(ws, LAYOUT_ROW, NAME_COL, "layout", book.fmt(F.NOTE))
    for j, (chip, mode, ev) in enumerate(columns):
        book.put(ws, 3, FIRST_COL + j, chip, head)
        book.put(ws, 4, FIRST_COL + j, mode, head)
        book.put(ws, LAYOUT_ROW, FIRST_COL + j, search.described(ev), book.fmt(F.NOTE))
    book.put(ws, FIRST_ROW + len(results), 0, "Everything the results need, live", book.fmt(F.SECTION))
    for name, r in row_of.items():
        s = first.table.specs[name]
        book.put(ws, r, NAME_COL, name)
        book.put(ws, r, UNIT_COL, s.unit_short)
    shared_ref = {n: f"'{SHEET}'!${xl_col_to_name(SHARED_COL)}${row_of[n] + 1}" for n in shared_order}
    for name in shared_order:
        s, value = first.table.specs[name], first.magnitude(name)
        num = None if s.categorical else number_format(s, value, True)
        book.put(ws, row_of[name], SHARED_COL, value, book.fmt(F.INPUT, num=num), editable=True)
        book.cell(ws, row_of[name], SHARED_COL, "input", name, generated=value if isinstance(value, str)
                  else float(value))
    for j, (chip, mode, ev) in enumerate(columns):
        col = FIRST_COL + j
        refs = {**{n: f"'{SHEET}'!${xl_col_to_name(col)}${r + 1}" for n, r in row_of.items() if n not in shared},
                **shared_ref}
        names = {REGISTRY.get(n).symbol: ref for n, ref in refs.items()}
        own = [n for n in row_of if n not in shared]
        formulas = formula_cells(ev, own)
        blanks = blank_notes(ev, [n for n in own if n not in formulas])
        why = reasons(ev, formulas, blanks)
        for name in own:
            _cell(book, ws, row_of[name], col, name, ev, (names, refs), (blanks, why), f"{chip}:{mode}")
    _chart(book, ws, template["chart"], row_of, columns, len(plans))
    # on paper: landscape, the chips' header rows on every page, one page wide (issue 31: no page setup)
    ws.set_landscape()
    ws.repeat_rows(3, LAYOUT_ROW)
    ws.print_area(0, 0, max(row_of.values(), default=FIRST_ROW), FIRST_COL + len(columns) - 1)
    ws.fit_to_pages(1, 0)
    _tornado(book, template, columns[0], row_of, shared)
    meta = book.wb.add_worksheet(metadata.SHEET)
    meta.hide()
    info = {"generator": f"symroof {__version__}", "model": first.model.id,
            "hardware": ",".join(p.hardware for p in plans), "template": "comparison", "rules": {},
            "overrides": dict(overrides), "calibration": "", "engine": ENGINE}
    digests = {sheet: {row: metadata.row_digest(cells) for row, cells in rows_.items()}
               for sheet, rows_ in book.content.items()}
    metadata.write(meta, info, book.cells, digests, lambda w, r, c, v: w.write_string(r, c, str(v)))
    book.wb.close()


class _Plain:
    """What Book asks of a template here: nothing but a name."""

    name = "comparison"
    sheets: list = []


def _cell(book: Book, ws, row: int, col: int, name: str, ev: Evaluation, where: tuple[dict, dict],
          notes: tuple[dict, dict], column: str) -> None:
    """One chip's cell of ``name``: its formula over the column (a rule's too), or its own input value.

    ``where``: the column's (symbol -> cell, name -> cell); ``notes``: its blank inputs' notes and the
    sentences its formulas show without a number (blanks.py)."""
    (names, refs), (blanks, why) = where, notes
    s = ev.table.specs[name]
    q = REGISTRY.get(name)
    origin = ev.provenance.get(name, FORMULA)
    value = cell_value(ev, name)
    if name in blanks:  # no value for this chip: blank until a planner types one
        blank_input(book, ws, row, col, s, blanks[name], {})
        book.cell(ws, row, col, "compare_input", name, column)
        return
    if q.kind == Kind.DERIVED or origin == RULE:
        needs = [r for r in s.requires if r in refs]
        text = book.formula(excel_expr(q, pins=ev.pins, mode=ev.mode), names, blanks, ev=ev)
        text, value = guarded(book, needs, text, value, ev, refs)
        text, value = noted(book, text, value, why.get(name))
        style = F.DERIVED if q.kind == Kind.DERIVED else F.RULE
        book.put(ws, row, col, text, book.fmt(style, num=number_format(s, value, False)), cached=value)
        book.cell(ws, row, col, "compare", name, column)
        return
    num = None if s.categorical else number_format(s, value, True)
    if s.neutral is not None and ev.mode == "bound":  # an estimate factor: the bound takes it neutral, fixed
        book.put(ws, row, col, value, book.fmt(F.NEUTRAL, num=num))
        book.cell(ws, row, col, "compare", name, column)
        return
    book.put(ws, row, col, value, book.fmt(F.INPUT, num=num), editable=True)
    book.cell(ws, row, col, "compare_input", name, column,
              generated=value if isinstance(value, str | bool) else float(value))


def _chart(book: Book, ws, name: str, row_of: dict, columns: list, n: int) -> None:
    """Bars of ``name`` per chip: the bound and the estimate as two series."""
    r = row_of[name]
    chart = book.wb.add_chart({"type": "column"})
    for k, (mode, colour) in enumerate((("bound", "#1F77B4"), ("estimate", "#FF7F0E"))):
        first, last = FIRST_COL + k * n, FIRST_COL + (k + 1) * n - 1
        chart.add_series({"name": mode, "categories": [SHEET, 3, FIRST_COL, 3, FIRST_COL + n - 1],
                          "values": [SHEET, r, first, r, last], "fill": {"color": colour}})
    unit = REGISTRY.get(name)
    chart.set_title({"name": f"{name} by chip"})
    chart.set_y_axis({"name": str(unit.unit), "major_gridlines": {"visible": True}})
    chart.set_x_axis({"name": "chip"})
    ws.insert_chart(xl_rowcol_to_cell(3, FIRST_COL + len(columns) + 1), chart, {"x_scale": 1.3, "y_scale": 1.2})


def _tornado(book: Book, template: dict, column: tuple, row_of: dict, shared: set) -> None:
    """Elasticities of the tornado quantity for the cheapest chip's bound, largest first, live, with bars."""
    chip, mode, ev = column
    name = template["tornado"]
    values = {e.wrt: e.value for e in elasticities(ev, name)}
    exprs = dict(elasticity_formulas(ev, name))
    ranked = sorted((w for w in exprs if w in row_of and values.get(w)), key=lambda w: -abs(values[w]))
    ranked = ranked[: int(template.get("tornado_bars", 12))]
    ws = book.wb.add_worksheet(TORNADO_SHEET)
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 14)
    book.put(ws, 0, 0, f"What moves {name} most: {chip}, {mode}", book.fmt(F.TITLE))
    book.put(ws, 1, 0, f"Exact elasticities (sympy derivatives, live): 1% more of an input changes {name} by about "
                       "this many %.", book.fmt(F.NOTE))
    book.put(ws, 3, 0, "input", book.fmt(F.HEAD))
    book.put(ws, 3, 1, "elasticity", book.fmt(F.HEAD))
    col = FIRST_COL
    refs = {n: f"'{SHEET}'!${xl_col_to_name(SHARED_COL if n in shared else col)}${r + 1}"
            for n, r in row_of.items()}
    names = {REGISTRY.get(n).symbol: ref for n, ref in refs.items()}
    for i, wrt in enumerate(ranked):
        book.put(ws, 4 + i, 0, wrt)
        text = book.formula(in_reporting_units(numeric(exprs[wrt]), None), names)
        book.put(ws, 4 + i, 1, text, book.fmt(F.DERIVED, num="+0.000;-0.000;0"), cached=values[wrt])
        book.cell(ws, 4 + i, 1, "elasticity", name, wrt)
    if ranked:
        chart = book.wb.add_chart({"type": "bar"})
        chart.add_series({"name": f"elasticity of {name}", "categories": [TORNADO_SHEET, 4, 0, 3 + len(ranked), 0],
                          "values": [TORNADO_SHEET, 4, 1, 3 + len(ranked), 1], "fill": {"color": "#1F77B4"},
                          "invert_if_negative": False})
        chart.set_title({"name": f"Tornado: elasticities of {name}"})
        chart.set_y_axis({"reverse": True})
        chart.set_x_axis({"name": "% change per 1% change of the input", "major_gridlines": {"visible": True}})
        chart.set_legend({"none": True})
        ws.insert_chart("D4", chart, {"x_scale": 1.4, "y_scale": 1.4})


def export_comparison(model: str, chips: list[str], overrides: Mapping[str, Any] | None = None,
                      out: str | Path | None = None, force: bool = False, template: str = "comparison",
                      calibration: str | None = None) -> Path:
    """Plan ``model`` on each chip (symroof.planner) and write the comparison workbook; returns its path."""
    if len(chips) < 2 or len(set(chips)) != len(chips):
        raise InputError("--compare needs two or more different chips, like h100,h200,b200")
    tpl = load_template(template)
    path = Path(out) if out is not None else Path(f"{Path(model).stem}_comparison.xlsx")
    if path.suffix.lower() != ".xlsx":
        raise InputError(f"{path}: a workbook is written as .xlsx")
    if path.exists() and not force:
        raise InputError(f"{path} exists; give --force to replace it")
    plans = compare(model, chips, overrides or {}, "bound", calibration)
    atomic_write(path, lambda tmp: write_comparison(plans, tpl, tmp, overrides or {}))
    return path
