"""One quantity's row of a sheet: its value cell (input, default rule, formula, neutral factor, not published)
with its description, source and formula text, and the calibrated estimate beside it."""

from __future__ import annotations

import numpy
from xlsxwriter.utility import xl_col_to_name

from ..declare import Kind
from ..derive.declared import REGISTRY
from ..derive.lower import excel_expr
from ..evaluation import FORMULA, RULE, Evaluation
from . import cells
from . import formats as F
from .blanks import DOES_NOT_APPLY
from .cells import ENGINEERING, EST_COL, NOT_FEASIBLE, PLAIN, PLAIN_WIDTHS, SOLVED, VALUE_COL, Book, Formula
from .layout import Block


def header(book: Book, ws, row: int, columns: tuple[str, ...]) -> None:
    for col, text in enumerate(columns):
        book.put(ws, row, col, text, book.fmt(F.HEAD))


def _validation(book: Book, ws, row: int, col: int, s, lists: dict) -> None:
    where = f"{s.name} ({s.unit_short or 'a plain number'})"
    if s.categorical:
        options = {"validate": "list", "source": f"={s.choice_list}",
                   "error_message": f"{s.name} must be one of the listed choices."}
    elif s.at_most is not None:
        options = {"validate": "decimal", "criteria": "between", "minimum": 1e-9, "maximum": s.at_most,
                   "error_message": f"{where} must be above 0 and at most {s.at_most:g}."}
    else:
        options = {"validate": "integer" if s.integer else "decimal", "criteria": ">", "value": 0,
                   "error_message": f"{where} must be a positive {'whole ' if s.integer else ''}number."}
    options.update({"error_title": "symroof: invalid input", "input_title": s.name[:32],
                    "input_message": s.description[:255], "show_error": True, "show_input": True})
    ws.data_validation(row, col, row, col, options)


def number_format(s, value, editable: bool) -> str | None:
    return F.number_format(s.unit_text, s.unit_short, value, integer=s.integer,
                           fraction=s.at_most == 1 and not s.unit_text, editable=editable)


def quantity_rows(book: Book, ws, block: Block, lists: dict) -> None:
    ev, est = book.ev, book.est
    plain = block.sheet.layout == "plain"
    solved = not plain and any(ev.table.specs[n].solved for n in block.names)
    columns = (PLAIN if plain else ENGINEERING) + (SOLVED if solved else ())
    unit_col, about_col, source_col, formula_col = 4, 5, 6, 7
    book.put(ws, block.row, 0 if not plain else 1, block.title, book.fmt(F.SECTION))
    if block.note:
        book.put(ws, block.row + 1, 1 if plain else 0, block.note, book.fmt(F.CAVEAT))
    header(book, ws, block.first - 1, columns)
    for i, name in enumerate(block.names):
        row = block.first + i
        s = ev.table.specs[name]
        q = REGISTRY.get(name)
        origin = ev.provenance.get(name, FORMULA)
        needs = [r for r in s.requires if r in book.where]
        value = cell_value(ev, name)
        unit = F.unit_words(s.unit_short) if plain else s.unit_short
        book.put(ws, row, 0, name, book.fmt(F.NAME) if plain else None)
        if plain:
            book.put(ws, row, 1, s.title, book.fmt(F.LABEL))
            book.put(ws, row, unit_col, unit, book.fmt(F.LABEL))
            book.put(ws, row, about_col, s.description, book.fmt(F.WRAP))
            book.put(ws, row, source_col, ev.source(name), book.fmt(F.WRAP))
            lines = max(_lines(s.title, PLAIN_WIDTHS[1]), _lines(s.description, PLAIN_WIDTHS[about_col]),
                        _lines(ev.source(name), PLAIN_WIDTHS[source_col]))
            if lines > 1:  # spreadsheets do not grow rows for wrapped text on their own
                ws.set_row(row, 15 * lines)
        else:
            book.put(ws, row, 1, _plain_symbol(s.display))
            book.put(ws, row, unit_col, unit)
            book.put(ws, row, about_col, s.description)
            book.put(ws, row, source_col, ev.source(name))
        if origin == FORMULA and q.kind == Kind.DERIVED:
            text, value = guarded(book, needs, book.formula(excel_expr(q, pins=ev.pins, mode=ev.mode)), value,
                                   ev, {})
            text, value = noted(book, text, value, book.reasons.get(name))
            book.put(ws, row, VALUE_COL, text, book.fmt(F.DERIVED, num=number_format(s, value, False)), cached=value)
            if not plain:
                note = f"{name} = {ev.formula_text(name)}"
                if name in book.varies and est.formula_text(name) != ev.formula_text(name):
                    note += f"   | estimate: {name} = {est.formula_text(name)}"
                book.put(ws, row, formula_col, note)
            kind = "derived"
        elif origin == RULE:
            if name in ev.rules:
                expr = REGISTRY.get(ev.rules[name]).symbol
                rule_text = ev.rules[name]
            else:
                expr = excel_expr(q, pins=ev.pins, mode=ev.mode)
                rule_text = s.formula_text(ev.mode)
            text, value = noted(book, book.formula(expr), value, book.reasons.get(name))
            book.put(ws, row, VALUE_COL, text, book.fmt(F.RULE, num=number_format(s, value, True)),
                     cached=value, editable=True)
            if not plain:
                book.put(ws, row, formula_col, f"default: {name} = {rule_text}")
            _validation(book, ws, row, VALUE_COL, s, lists)
            kind = "rule"
        elif s.structural:  # the model's architecture: its formulas were written for this choice
            book.put(ws, row, VALUE_COL, value)
            if not plain:
                book.put(ws, row, formula_col, "the model's structure: fixed at export (formulas are written for it)")
            kind = "structure"
        elif s.neutral is not None:  # an estimate factor: its bound value is fixed, its estimate an input
            book.put(ws, row, VALUE_COL, float(s.neutral), book.fmt(F.NEUTRAL, num=number_format(s, value, True)))
            if not plain:
                book.put(ws, row, formula_col, "estimate factor: the bound takes it at this neutral value")
            kind = "neutral"
        elif name in book.blanks:  # the vendor has not published it: blank until the planner types one
            blank_input(book, ws, row, VALUE_COL, s, book.blanks[name], lists)
            if not plain:
                book.put(ws, row, formula_col, f"input: {book.blanks[name]}")
            kind = "unpublished"
        else:
            num = None if s.categorical else number_format(s, value, True)
            book.put(ws, row, VALUE_COL, value, book.fmt(F.INPUT, num=num), editable=True)
            if not plain:
                book.put(ws, row, formula_col, "input" if s.kind == "input" else "pinned (set on export)")
            _validation(book, ws, row, VALUE_COL, s, lists)
            kind = "input"
        if solved and s.solved:
            book.put(ws, row, 8, s.equation.replace(", solved for ", ", for "))
            book.put(ws, row, 9, s.regime or "")
        if needs and kind == "derived":  # struck through in red while a condition it needs fails
            ws.conditional_format(row, VALUE_COL, row, VALUE_COL, {
                "type": "formula", "criteria": f"=NOT(AND({','.join(needs)}))", "format": book.fmt(F.INFEASIBLE)})
        generated = None
        if kind == "input":
            generated = value if isinstance(value, str | bool) else float(numpy.asarray(value))
        book.cell(ws, row, VALUE_COL, kind, name, generated=generated, kept=name in book.kept)
        if name in book.varies:
            estimate_cell(book, ws, row, name, kind, needs, lists)


def cell_value(ev: Evaluation, name: str):
    """What a cell shows: the value in its reporting unit (TRUE/FALSE for yes/no), or None without one."""
    if name in ev.unpublished or name in ev.unavailable or name not in ev.base:
        return None
    value = ev.magnitude(name)
    if not isinstance(value, str) and not numpy.isfinite(numpy.asarray(value, dtype=float)).all():
        return None
    return bool(value) if ev.table.specs[name].boolean else value


def noted(book: Book, text: Formula, value, reason: str | None) -> tuple:
    """A formula that shows ``reason`` in words where it has no number (blanks.py), with what it shows now.

    A formula the model does not derive here at all (``NA()``: an expert-parallel threshold on a torus) is
    the sentence itself."""
    if text == "=NA()":
        return DOES_NOT_APPLY, DOES_NOT_APPLY
    if reason is None:
        return text, value
    body = f'=IFERROR({text[1:]},"{reason}")'
    if len(body) > cells.MAX_FORMULA_LENGTH:  # compute the formula in a helper cell, the note here
        body = f'=IFERROR({book._helper(text, None if isinstance(value, str) else value)},"{reason}")'
    return Formula(body), (reason if value is None else value)


def blank_input(book: Book, ws, row: int, col: int, s, note: str, lists: dict) -> None:
    """An input cell with no value yet (no vendor published one): blank, with its note as a cell comment."""
    book.put(ws, row, col, None, book.fmt(F.INPUT), editable=True)
    ws.write_comment(row, col, f"{s.name}: {note}")
    _validation(book, ws, row, col, s, lists)


def guarded(book: Book, needs: list[str], text: Formula, value, ev: Evaluation, refs: dict) -> tuple:
    """A result that means nothing when a condition it requires fails says so, not a number or #DIV/0!."""
    if not needs:
        return text, value
    held = all(ev.holds(r) is not False for r in needs)
    conditions = ",".join(refs.get(r, r) for r in needs)
    guarded = f'=IF(AND({conditions}),{text[1:]},"{NOT_FEASIBLE}")'
    if len(guarded) + cells.HELPER_WRAP > cells.MAX_FORMULA_LENGTH:  # past the limit (with the IFERROR a note or
        # a helper adds): compute it in a helper cell
        ref = book._helper(text, value if not isinstance(value, str) else None)
        guarded = f'=IF(AND({conditions}),{ref},"{NOT_FEASIBLE}")'
    return Formula(guarded), (value if held else NOT_FEASIBLE)


def estimate_cell(book: Book, ws, row: int, name: str, kind: str, needs: list[str], lists: dict) -> None:
    """The calibrated estimate beside the bound (column D): a factor's calibrated value, or the formula in
    estimate mode over the other estimate cells."""
    est = book.est
    s = est.table.specs[name]
    q = REGISTRY.get(name)
    value = cell_value(est, name)
    refs = {n: f"'{sheet}'!${xl_col_to_name(EST_COL)}${r + 1}" for n, (sheet, r) in book.where.items()
            if n in book.varies}
    names = {REGISTRY.get(n).symbol: ref for n, ref in refs.items()}
    if kind in ("neutral", "input"):  # an estimate factor, or an input the calibration sets (prefill MFU)
        book.put(ws, row, EST_COL, float(value), book.fmt(F.INPUT, num=number_format(s, value, True)),
                 editable=True)
        _validation(book, ws, row, EST_COL, s, lists)
        book.cell(ws, row, EST_COL, "estimate_input", name, generated=float(value), kept=name in book.kept_est)
        return
    if kind == "rule" and name in est.rules:
        text, value = noted(book, Formula("=" + refs.get(est.rules[name], est.rules[name])), value,
                            book.reasons_est.get(name))
        book.put(ws, row, EST_COL, text, book.fmt(F.RULE, num=number_format(s, value, True)), cached=value,
                 editable=True)
        book.cell(ws, row, EST_COL, "estimate_rule", name)
        return
    text = book.formula(excel_expr(q, pins=est.pins, mode=est.mode), names, ev=est)
    text, value = guarded(book, needs, text, value, est, refs)
    text, value = noted(book, text, value, book.reasons_est.get(name))
    book.put(ws, row, EST_COL, text, book.fmt(F.ESTIMATE, num=number_format(s, value, False)), cached=value)
    book.cell(ws, row, EST_COL, "estimate", name)
    if needs:
        conditions = ",".join(refs.get(r, r) for r in needs)
        ws.conditional_format(row, EST_COL, row, EST_COL, {
            "type": "formula", "criteria": f"=NOT(AND({conditions}))", "format": book.fmt(F.INFEASIBLE)})


def _lines(text: str, width: int) -> int:
    """About how many lines ``text`` wraps to in a column ``width`` characters wide."""
    return max(1, -(-len(text) // max(1, int(width * 1.1))))


def _plain_symbol(display: str) -> str:
    """A LaTeX display symbol as plain text (``T_{\\text{step}}`` -> ``T_step``)."""
    text = display
    for cmd in ("\\text", "\\operatorname", "\\mathrm"):
        text = text.replace(cmd, "")
    for a, b in (("\\max", "max"), ("\\min", "min"), ("\\lambda", "λ"), ("\\$", "$"), ("{", ""), ("}", ""),
                 ("\\", "")):
        text = text.replace(a, b)
    return text


