"""Whole sheets and their parts: headings with live status sentences, drop-down lists, sensitivities, the sweep
with its charts, and the print setup."""

from __future__ import annotations

import numpy
from xlsxwriter.utility import xl_col_to_name

from ..core.sentences import excel as excel_sentence
from ..core.sentences import pieces
from ..core.sentences import render as render_sentence
from ..declare import Select, formula
from ..derive.declared import REGISTRY
from ..derive.lower import in_reporting_units, numeric, resolve, through
from ..evaluation import FORMULA, RULE, Evaluation
from ..printing.numpy import codegen
from ..sensitivity import elasticities, elasticity_formulas
from . import cells
from . import formats as F
from .cells import (
    ENGINEERING,
    LISTS_SHEET,
    MAX_SWEEP_ROWS,
    PLAIN,
    PLAIN_WIDTHS,
    SOLVED,
    VALUE_COL,
    Book,
    Formula,
)
from .rows import header, noted, number_format
from .template import Sheet, TemplateError


def heading(book: Book, ws, sheet: Sheet, first: bool, status: list[str]) -> None:
    ev = book.ev
    title = f"{book.template.title}: {ev.model.name} on {ev.hardware.name}" if first else sheet.name
    col = 1 if sheet.layout == "plain" else 0  # a plain page hides column A (the public names)
    book.put(ws, 0, col, title, book.fmt(F.TITLE))
    if sheet.note:
        book.put(ws, 1, col, sheet.note, book.fmt(F.NOTE if sheet.layout != "plain" else F.CAVEAT_NOTE))
    if not sheet.status:
        return
    for i, name in enumerate(status):  # what each yes/no quantity says, live (declared in the model)
        row = 2 + i
        yes, no = ev.table.specs[name].says
        branches = [excel_sentence(yes), excel_sentence(no)]
        if len(branches[0]) + len(branches[1]) + len(name) + 6 > cells.MAX_FORMULA_LENGTH:
            branches = [_sentence_in_helpers(book, t) for t in (yes, no)]
        text = Formula(f"=IF({name},{branches[0]},{branches[1]})")
        holds = ev.holds(name)
        book.put(ws, row, col, text, book.fmt(F.STATUS_GOOD if holds else F.STATUS_BAD), cached=ev.says(name))
        book.cell(ws, row, col, "status", name)
        ws.conditional_format(row, col, row, col, {"type": "formula", "criteria": f"=NOT({name})",
                                                   "format": book.fmt(F.STATUS_BAD)})
        ws.conditional_format(row, col, row, col, {"type": "formula", "criteria": f"={name}",
                                                   "format": book.fmt(F.STATUS_GOOD)})


def _sentence_in_helpers(book: Book, sentence: str) -> str:
    """A sentence too long for one formula, built in helper cells; returns the reference to use."""
    parts = pieces(sentence)
    refs, chunk, size = [], [], 0
    for expr, text in parts + [("", "")]:
        if (not expr or size + len(expr) + 1 > cells.MAX_FORMULA_LENGTH - 2) and chunk:
            body = "&".join(e for e, _ in chunk)
            refs.append(book._helper("=" + body, render_sentence("".join(t for _, t in chunk), book.ev.magnitude)))
            chunk, size = [], 0
        if expr:
            chunk.append((expr, text))
            size += len(expr) + 1
    return "&".join(refs)


def choice_lists(ev: Evaluation, placed: set[str]) -> dict[str, list[str]]:
    """Each placed categorical input's drop-down list: the choices every placed formula can use.

    A choice is left out when a placed formula or default rule selects, for it,
    a quantity that has no value here (fp8 on a chip with no fp8 rate).
    """
    lists: dict[str, list[str]] = {}
    for name in placed:
        s = ev.table.specs[name]
        if not s.categorical or s.structural:
            continue
        usable = list(s.choices)
        for other in placed:
            if ev.provenance.get(other) not in (FORMULA, RULE) or other in ev.rules:
                continue
            for sel in formula(REGISTRY.get(other), ev.pins, ev.mode).atoms(Select):
                if sel.key.name == name:
                    usable = [c for c in usable if all(x.name in placed for x in sel.choose(c).free_symbols)]
        previous = lists.get(s.choice_list)
        if previous is not None and previous != usable:
            raise TemplateError(f"the drop-down list {s.choice_list} is shared by inputs with different choices")
        lists[s.choice_list] = usable
    return dict(sorted(lists.items(), key=lambda kv: _first_use(ev, kv[0])))


def _first_use(ev: Evaluation, list_name: str) -> int:
    for i, s in enumerate(ev.table):
        if s.choice_list == list_name:
            return i
    return 0


def write_lists(book: Book, lists: dict[str, list[str]]) -> None:
    """Drop-down choices on a hidden sheet, reached through defined names."""
    ws = book.wb.add_worksheet(LISTS_SHEET)
    ws.hide()
    for col, (name, values) in enumerate(lists.items()):
        book.put(ws, 0, col, name)
        for i, v in enumerate(values):
            book.put(ws, 1 + i, col, v)
        letter = xl_col_to_name(col)
        book.wb.define_name(name, f"='{LISTS_SHEET}'!${letter}$2:${letter}${1 + len(values)}")


def sensitivity_sheet(book: Book, ws, sheet: Sheet) -> None:
    ev = book.ev
    row = 3
    for name in sheet.quantities:
        if name not in book.where or ev.kind(name) != "derived":
            continue
        values = {e.wrt: e.value for e in elasticities(ev, name)}
        book.put(ws, row, 0, f"Elasticities of {name}", book.fmt(F.SECTION))
        header(book, ws, row + 1, ENGINEERING)
        row += 2
        for wrt, expr in elasticity_formulas(ev, name):
            if wrt not in book.where:
                continue
            book.put(ws, row, 0, f"e({name}, {wrt})")
            book.put(ws, row, 1, f"d ln {name} / d ln {wrt}")
            book.put(ws, row, VALUE_COL, book.formula(in_reporting_units(numeric(expr), None)),
                     book.fmt(F.DERIVED, num="+0.000;-0.000;0"), cached=values[wrt])
            book.put(ws, row, 5, f"1% more {wrt} changes {name} by about this many %.")
            book.put(ws, row, 6, "symroof: sympy derivative of the formula (bound)")
            book.cell(ws, row, VALUE_COL, "elasticity", name, wrt)
            row += 1
        row += 1


SERIES_COLOURS = ("#1F77B4", "#D62728", "#2CA02C", "#FF7F0E", "#9467BD", "#8C564B")


def sweep_sheet(book: Book, ws, sheet: Sheet) -> None:
    ev = book.ev
    vary = REGISTRY.get(sheet.vary)
    cols = [n for n in sheet.quantities if n in book.where]
    top = 3
    headers = [vary.name] + cols
    for col, text in enumerate(headers):
        s = ev.table.specs[text]
        label = f"{text} [{s.unit_short}]" if s.unit_short else text
        book.put(ws, top, col, label, book.fmt(F.HEAD))
    largest = ev.magnitude(sheet.rows_to) if sheet.rows_to in ev.base else 1
    count = int(min(max(1, largest), MAX_SWEEP_ROWS))
    batches = numpy.arange(1.0, count + 1)
    exprs = {n: numeric(through(REGISTRY.get(n), vary.symbol, ev.pins, ev.mode)) for n in cols}
    choices = {n: v for n, v in ev.base.items() if ev.table.specs[n].categorical}
    values = _sweep_values(ev, {n: resolve(e, choices) for n, e in exprs.items()}, vary, batches)
    cell_formats, shown, templates = {}, {}, {}
    why = {}  # a column whose formula reads a cell that can hold a sentence shows one too (blanks.py)
    for n in cols:  # each column's formula is printed once, with the row's batch cell as a placeholder
        shown[n] = in_reporting_units(exprs[n], REGISTRY.get(n))
        read = {REGISTRY.by_symbol(x).name for x in shown[n].free_symbols if x in REGISTRY._by_symbol}
        if n in book.reasons or any(r in book.reasons or r in book.blanks for r in read) \
                or not numpy.isfinite(numpy.asarray(values[n], dtype=float)).all():
            why[n] = book.reasons.get(n, "not finite here")
        helpers_before = book.helper_row
        template = book.formula(shown[n], {vary.symbol: "$A{ROW}"})
        templates[n] = template if book.helper_row == helpers_before else None  # split: print row by row
    for i in range(count):
        row = top + 1 + i
        ref = f"$A{row + 1}"
        book.put(ws, row, 0, float(i + 1), book.fmt(F.INPUT, num="#,##0"))
        book.cell(ws, row, 0, "sweep_input", vary.name, generated=float(i + 1))
        for j, n in enumerate(cols):
            s = ev.table.specs[n]
            value = values[n][i]
            if s.boolean:
                value = bool(value)
            if n not in cell_formats:
                cell_formats[n] = book.fmt(F.DERIVED, num=number_format(s, values[n][count // 2], False))
            text = Formula(templates[n].replace("{ROW}", str(row + 1))) if templates[n] is not None else \
                book.formula(shown[n], {vary.symbol: ref})
            if not numpy.isfinite(float(value)):
                value = None
            if len(text) + 80 <= cells.MAX_FORMULA_LENGTH:  # a helper cell elsewhere could not read this row
                text, value = noted(book, text, value, why.get(n))
            book.put(ws, row, 1 + j, text, cell_formats[n], cached=value)
            book.cell(ws, row, 1 + j, "sweep", n, ref)
    first, last = top + 1, top + count
    for k, chart in enumerate(sheet.charts):
        c = book.wb.add_chart({"type": "scatter", "subtype": "straight_with_markers"})
        c.set_title({"name": chart.title})
        xcol = headers.index(chart.x)
        series = [y for y in chart.y if y in headers]  # a quantity this chip cannot give has no column
        for m, y in enumerate(series):
            ycol = headers.index(y)
            colour = SERIES_COLOURS[m % len(SERIES_COLOURS)]
            c.add_series({"name": ev.table.specs[y].title,
                          "categories": [ws.name, first, xcol, last, xcol],
                          "values": [ws.name, first, ycol, last, ycol],
                          "line": {"color": colour, "width": 1.5},
                          "marker": {"type": "circle", "size": 3, "border": {"color": colour},
                                     "fill": {"color": colour}}})
        xs, ys = ev.table.specs[chart.x], [ev.table.specs[y] for y in series]
        c.set_x_axis({"name": chart.x_title or f"{xs.title} ({xs.unit_short})", "major_gridlines": {"visible": True}})
        y_axis = {"name": chart.y_title or f"{ys[0].title} ({ys[0].unit_short})", "major_gridlines": {"visible": True}}
        if chart.log_y:
            y_axis["log_base"] = 10
        c.set_y_axis(y_axis)
        c.set_legend({"position": "right"})
        c.set_size({"width": 760, "height": 380})
        ws.insert_chart(top + k * 21, len(headers) + 1, c)


def _sweep_values(ev: Evaluation, exprs: dict, vary, batches: numpy.ndarray) -> dict[str, numpy.ndarray]:
    """Each sweep column's value per row (reporting units), for the cached results."""
    if not exprs:
        return {}
    args = sorted({s for e in exprs.values() for s in e.free_symbols}, key=lambda s: s.name)
    func = codegen(args, list(exprs.values()), "_sheet_sweep")
    point = [batches * vary.factor if a == vary.symbol else numpy.float64(ev.base[a.name]) for a in args]
    with numpy.errstate(divide="ignore", invalid="ignore", over="ignore"):
        results = func(*point)
    return {n: numpy.broadcast_to(numpy.asarray(r, dtype=float), batches.shape) / REGISTRY.get(n).factor
            for n, r in zip(exprs, results, strict=True)}


#: Rows a landscape page holds at a readable size: a "one-page" sheet longer than this prints one page wide and as
#: many pages long as it needs (issue 31: the finance page's 107 rows were shrunk onto one letter page).
ONE_PAGE_ROWS = 50


def page_setup(book: Book, ws, sheet: Sheet) -> None:
    """Column widths and print setup: the used columns only, landscape, title rows on every page."""
    if sheet.kind == "rows" and sheet.layout == "plain":
        for col, width in enumerate(PLAIN_WIDTHS):
            ws.set_column(col, col, width, None, {"hidden": True} if col == 0 else None)
    elif sheet.kind == "sweep":
        ws.set_column(0, 20, 18)
    else:
        for col, width in enumerate((34, 16, 18, 18, 16, 60, 50, 60, 50, 50)):
            ws.set_column(col, col, width)
    rows = book.content.get(ws.name, {})
    last_row = max(rows, default=0)
    last_col = max((c for cells in rows.values() for c, _ in cells), default=0)
    if sheet.kind == "rows":
        last_col = min(last_col, (len(PLAIN) if sheet.layout == "plain" else len(ENGINEERING) + len(SOLVED)) - 1)
    ws.print_area(0, 0, last_row, last_col)
    ws.set_landscape()
    ws.repeat_rows(0, 1)
    ws.hide_gridlines(1)  # gridlines on screen, not on paper
    if sheet.print == "one-page" and last_row < ONE_PAGE_ROWS:
        ws.fit_to_pages(1, 1)
    else:
        ws.fit_to_pages(1, 0)
