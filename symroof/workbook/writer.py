"""Writing a template as a live-formula workbook, with each formula's value cached beside it.

Each quantity has one row and one workbook-scoped defined name (its public
name) on the cell that holds its value, in the unit ``symroof eval`` reports.
Formulas come from :func:`symroof.lower.excel_expr` (the one lowering path)
and :mod:`symroof.printing.excel`; every formula cell also carries the value
symroof computed, so viewers that do not calculate (file previews, pandas,
openpyxl ``data_only``) show numbers, while Excel and LibreOffice recalculate.

Everything written goes through :meth:`Book.put`, which records it for the
digests that let a later export see what a planner changed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy
import sympy
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from ..calibration import reference
from ..core.errors import SymroofError
from ..core.sentences import excel as excel_sentence
from ..core.sentences import names as sentence_names
from ..core.sentences import pieces
from ..core.sentences import render as render_sentence
from ..core.version import __version__
from ..declare import REGISTRY, Kind, Select, formula
from ..derive.lower import excel_expr, in_reporting_units, numeric, resolve, through
from ..evaluation import CALIBRATION, FORMULA, RULE, SET, Evaluation
from ..printing.excel import MAX_FORMULA_LENGTH, excel_formula
from ..printing.numpy import codegen
from . import formats as F
from . import metadata
from .layout import Block, place
from .names import check_names
from .template import Sheet, Template, TemplateError

LISTS_SHEET = "Lists"
HELPERS_SHEET = "Helpers"
MAX_SWEEP_ROWS = 512
ENGINEERING = ("Name", "Symbol", "Bound", "Estimate", "Unit", "Description", "Source", "Formula")
PLAIN = ("Name", "Item", "Roofline bound", "Calibrated estimate", "Unit", "What it is", "Source")
SOLVED = ("Solved from", "Holds when")
PLAIN_WIDTHS = (24, 46, 15, 15, 20, 56, 40)
VALUE_COL = 2  # column C holds every quantity's value (its defined name), the chapter's roofline bound
EST_COL = 3  # column D: the calibrated estimate, where it differs
NOT_FEASIBLE = "not feasible"  # what a result shows while a condition it requires fails


class Book:
    """The workbook being written, with the bookkeeping formulas and digests need."""

    def __init__(self, ev: Evaluation, est: Evaluation, template: Template, filename: str,
                 kept: frozenset[str] = frozenset(), kept_est: frozenset[str] = frozenset()) -> None:
        self.ev = ev  # the bound (column C, the defined names)
        self.est = est  # the calibrated estimate (column D)
        self.template = template
        self.kept = kept
        self.kept_est = kept_est
        self.varies = varying(ev, est)
        self.wb = xlsxwriter.Workbook(filename, {"strings_to_numbers": False, "strings_to_formulas": False,
                                                 "strings_to_urls": False, "nan_inf_to_errors": True})
        self.cells: list[metadata.CellInfo] = []
        self.content: dict[str, dict[int, list[tuple[int, object]]]] = {}
        self.where: dict[str, tuple[str, int]] = {}
        self._formats: dict[tuple, object] = {}
        self.helpers = None
        self.helper_row = 0
        self.helper_values: dict[sympy.Dummy, float | None] = {}

    # --- cells ---
    def fmt(self, *parts: dict, num: str | None = None):
        key = (tuple(tuple(sorted(p.items())) for p in parts), num)
        if key not in self._formats:
            props: dict = {}
            for p in parts:
                props.update(p)
            if num:
                props["num_format"] = num
            self._formats[key] = self.wb.add_format(props)
        return self._formats[key]

    def put(self, ws, row: int, col: int, value, fmt=None, *, cached=None, editable: bool = False) -> None:
        """Write one cell: text as text (never a formula), numbers, booleans, or ``=formula`` with its value."""
        if isinstance(value, Formula):
            ws.write_formula(row, col, value.text, fmt, _cached(cached))
            content = value.text
        elif isinstance(value, bool):
            ws.write_boolean(row, col, value, fmt)
            content = value
        elif isinstance(value, int | float | numpy.number):
            ws.write_number(row, col, float(value), fmt)
            content = float(value)
        elif value is None or value == "":
            if fmt is not None:
                ws.write_blank(row, col, None, fmt)
            return
        else:
            ws.write_string(row, col, str(value), fmt)
            content = str(value)
        if not editable:
            self.content.setdefault(ws.name, {}).setdefault(row, []).append((col, content))

    def cell(self, ws, row: int, col: int, kind: str, name: str = "", detail: str = "", generated=None,
             kept: bool = False) -> str:
        address = xl_rowcol_to_cell(row, col)
        self.cells.append(metadata.CellInfo(ws.name, address, kind, name, detail, generated, kept))
        return address

    # --- formulas ---
    def formula(self, expr: sympy.Expr, names: Mapping | None = None) -> Formula:
        """The Excel formula of ``expr`` (reporting units already), split into helper cells if too long.

        Lambert W, which Excel lacks, is computed in helper cells first (see :meth:`_lambertw`).
        """
        available = {REGISTRY.get(n).symbol for n in self.where}
        names = dict(names or {})
        if expr.has(Select):
            expr = resolve(expr, self.ev.structure)  # dense or MoE is fixed by the model, not a planner's choice
        expr, available = self._lambertw(expr, names, available)
        return Formula(self._fit(expr, names, available))

    def _lambertw(self, expr: sympy.Expr, names: dict, available: set) -> tuple[sympy.Expr, set]:
        """``expr`` with each LambertW(x) replaced by a helper cell that computes it: x, a first guess, then
        the same fixed number of Halley steps as :func:`symroof.generated.lambertw`."""
        from ..core.numeric import LAMBERTW_STEPS, LAMBERTW_SWITCH, lambertw_start, lambertw_step

        while True:
            nodes = [n for n in expr.atoms(sympy.LambertW) if not n.args[0].has(sympy.LambertW)]
            if not nodes:
                return expr, available
            node = nodes[0]
            x_value = self._value_of(node.args[0], names)
            x_ref = self._helper(self._fit(node.args[0], names, available), x_value)
            p = f"SQRT(MAX(2*(EXP(1)*{x_ref}+1),0))"
            w_value = None if x_value is None else float(lambertw_start(numpy.float64(x_value)))
            w_ref = self._helper(f"=IF({x_ref}<{LAMBERTW_SWITCH},-1+{p}-{p}^2/3+11/72*{p}^3,"
                                 f"LN(1+MAX({x_ref},{LAMBERTW_SWITCH})))", w_value)
            for _ in range(LAMBERTW_STEPS):
                f = f"({w_ref}*EXP({w_ref})-{x_ref})"
                if w_value is not None:
                    w_value = float(lambertw_step(numpy.float64(w_value), numpy.float64(x_value)))
                w_ref = self._helper(f"=IF(ABS({w_ref}+1)<1E-12,{w_ref},{w_ref}-{f}/(EXP({w_ref})*({w_ref}+1)"
                                     f"-({w_ref}+2)*{f}/(2*{w_ref}+2)))", w_value)
            helper = sympy.Dummy("lambertw")
            names[helper] = w_ref
            self.helper_values[helper] = w_value
            available = available | {helper}
            expr = expr.xreplace({node: helper})

    def _fit(self, expr: sympy.Expr, names: dict, available: set) -> str:
        """Print ``expr``; while too long, move its largest part into a helper cell."""
        text = excel_formula(expr, names, available)
        while len(text) > MAX_FORMULA_LENGTH:
            compound = [a for a in expr.args if not a.is_Atom]
            if compound:
                part = max(compound, key=lambda a: len(excel_formula(a, names, available)))
            elif isinstance(expr, sympy.Add | sympy.Mul | sympy.Max | sympy.Min) and len(expr.args) > 2:
                part = expr.func(*expr.args[: len(expr.args) // 2])
            else:
                raise SymroofError(f"a formula of {len(text)} characters cannot be split to fit one Excel cell")
            helper = sympy.Dummy("helper")
            self.helper_values[helper] = self._value_of(part, names)
            names[helper] = self._helper(self._fit(part, names, available), self.helper_values[helper])
            available = available | {helper}
            expr = expr.xreplace({part: helper}) if compound else expr.func(helper, *expr.args[len(part.args):])
            text = excel_formula(expr, names, available)
        return text

    def _value_of(self, expr: sympy.Expr, names: dict) -> float | None:
        """A helper cell's value at the operating point (reporting units), for its cached result."""
        point = {}
        for s in expr.free_symbols:
            if isinstance(s, sympy.Dummy) and self.helper_values.get(s) is not None:
                point[s] = sympy.Float(self.helper_values[s], 17)
            elif (s not in names and s.name in self.ev.base and s.name not in self.ev.unavailable
                  and not REGISTRY.get(s.name).categorical):
                point[s] = sympy.Float(float(self.ev.magnitude(s.name)), 17)
            else:
                return None  # a reference to a sweep row, or a choice: the spreadsheet computes it
        try:
            value = float(expr.xreplace(point).evalf(17))
        except TypeError:
            return None
        return value

    def _helper(self, text: str, value) -> str:
        if self.helpers is None:
            self.helpers = self.wb.add_worksheet(HELPERS_SHEET)
            self.put(self.helpers, 0, 0, "Helper cells: parts of formulas longer than Excel's 8,192 characters, and "
                                         "the Halley steps that compute Lambert W (Excel has no such function).")
            self.helper_row = 1
        row = self.helper_row
        self.helper_row += 1
        self.put(self.helpers, row, 1, Formula(text if text.startswith("=") else "=" + text), cached=value)
        self.cell(self.helpers, row, 1, "helper")
        return f"'{HELPERS_SHEET}'!$B${row + 1}"


class Formula(str):
    """A cell formula (with its leading ``=``)."""

    @property
    def text(self) -> str:
        return str(self)


def _cached(value):
    if value is None:
        return ""  # no value known: an empty result makes spreadsheets compute it
    if isinstance(value, bool | str):
        return value
    value = float(value)
    return value if numpy.isfinite(value) else "#NUM!"


# --- the workbook -----------------------------------------------------------------------------------------------

def write(ev: Evaluation, est: Evaluation, template: Template, filename: str, kept: frozenset[str] = frozenset(),
          overrides: Mapping | None = None, kept_est: frozenset[str] = frozenset()) -> list[metadata.CellInfo]:
    """Write the workbook of ``ev`` (the bound) and ``est`` (the estimate beside it) laid out by ``template``."""
    book = Book(ev, est, template, filename, kept, kept_est)
    available = set(ev.computable())
    status = [s.name for s in ev.table if s.says and not s.on_false and s.name in available
              and all(n in available for sentence in s.says for n in sentence_names(sentence))]
    blocks, where = place(template, ev.table, available, len(status))
    lists = _choice_lists(ev, set(where))
    check_names(list(where) + list(lists))
    book.where = where
    sheets = {s.name: book.wb.add_worksheet(s.name) for s in template.sheets}
    for sheet in template.sheets:
        _heading(book, sheets[sheet.name], sheet, sheet is template.sheets[0], status)
    _lists(book, lists)
    for name, (sheet, row) in where.items():
        book.wb.define_name(name, f"='{sheet}'!${xl_col_to_name(VALUE_COL)}${row + 1}")
    for block in blocks:
        _block(book, sheets[block.sheet.name], block, lists)
    for sheet in template.sheets:
        ws = sheets[sheet.name]
        if sheet.kind == "sensitivities":
            _sensitivities(book, ws, sheet)
        elif sheet.kind == "sweep":
            _sweep(book, ws, sheet)
        _page(book, ws, sheet)
    meta = book.wb.add_worksheet(metadata.SHEET)
    meta.hide()
    info = {"generator": f"symroof {__version__}", "model": ev.model.id, "hardware": ev.hardware.id,
            "template": template.name, "rules": dict(ev.rules),
            "overrides": {k: v for k, v in (overrides or {}).items()},
            "calibration": reference(est.calibration) if est.calibration is not None else ""}
    digests = {sheet: {row: metadata.row_digest(cells) for row, cells in rows.items()}
               for sheet, rows in book.content.items()}
    for s in template.sheets:
        digests.setdefault(s.name, {})
    metadata.write(meta, info, book.cells, digests, lambda ws, r, c, v: ws.write_string(r, c, str(v)))
    book.wb.close()
    return book.cells


def _heading(book: Book, ws, sheet: Sheet, first: bool, status: list[str]) -> None:
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
        if len(branches[0]) + len(branches[1]) + len(name) + 6 > MAX_FORMULA_LENGTH:
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
        if (not expr or size + len(expr) + 1 > MAX_FORMULA_LENGTH - 2) and chunk:
            body = "&".join(e for e, _ in chunk)
            refs.append(book._helper("=" + body, render_sentence("".join(t for _, t in chunk), book.ev.magnitude)))
            chunk, size = [], 0
        if expr:
            chunk.append((expr, text))
            size += len(expr) + 1
    return "&".join(refs)


def _choice_lists(ev: Evaluation, placed: set[str]) -> dict[str, list[str]]:
    """Each placed categorical input's drop-down list: the choices every placed formula can use.

    A choice is left out when a placed formula or default rule selects, for it,
    a quantity that has no value here (fp8 on a chip with no fp8 rate).
    """
    from ..declare import Select

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


def _lists(book: Book, lists: dict[str, list[str]]) -> None:
    """Drop-down choices on a hidden sheet, reached through defined names."""
    ws = book.wb.add_worksheet(LISTS_SHEET)
    ws.hide()
    for col, (name, values) in enumerate(lists.items()):
        book.put(ws, 0, col, name)
        for i, v in enumerate(values):
            book.put(ws, 1 + i, col, v)
        letter = xl_col_to_name(col)
        book.wb.define_name(name, f"='{LISTS_SHEET}'!${letter}$2:${letter}${1 + len(values)}")


def _header(book: Book, ws, row: int, columns: tuple[str, ...]) -> None:
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


def _number_format(s, value, editable: bool) -> str | None:
    return F.number_format(s.unit_text, s.unit_short, value, integer=s.integer,
                           fraction=s.at_most == 1 and not s.unit_text, editable=editable)


def _block(book: Book, ws, block: Block, lists: dict) -> None:
    ev, est = book.ev, book.est
    plain = block.sheet.layout == "plain"
    solved = not plain and any(ev.table.specs[n].solved for n in block.names)
    columns = (PLAIN if plain else ENGINEERING) + (SOLVED if solved else ())
    unit_col, about_col, source_col, formula_col = 4, 5, 6, 7
    book.put(ws, block.row, 0 if not plain else 1, block.title, book.fmt(F.SECTION))
    if block.note:
        book.put(ws, block.row + 1, 1 if plain else 0, block.note, book.fmt(F.CAVEAT))
    _header(book, ws, block.first - 1, columns)
    for i, name in enumerate(block.names):
        row = block.first + i
        s = ev.table.specs[name]
        q = REGISTRY.get(name)
        origin = ev.provenance.get(name, FORMULA)
        needs = [r for r in s.requires if r in book.where]
        value = _value(ev, name)
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
            text, value = _guarded(book, needs, book.formula(excel_expr(q, pins=ev.pins, mode=ev.mode)), value,
                                   ev, {})
            book.put(ws, row, VALUE_COL, text, book.fmt(F.DERIVED, num=_number_format(s, value, False)), cached=value)
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
            book.put(ws, row, VALUE_COL, book.formula(expr), book.fmt(F.RULE, num=_number_format(s, value, True)),
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
            book.put(ws, row, VALUE_COL, float(s.neutral), book.fmt(F.NEUTRAL, num=_number_format(s, value, True)))
            if not plain:
                book.put(ws, row, formula_col, "estimate factor: the bound takes it at this neutral value")
            kind = "neutral"
        elif name in ev.unpublished:  # the vendor has not published it: #N/A until the planner types one
            book.put(ws, row, VALUE_COL, Formula("=NA()"), book.fmt(F.INPUT), cached="#N/A", editable=True)
            if not plain:
                book.put(ws, row, formula_col, "input: not published for this chip; type a value to use it")
            kind = "unpublished"
        else:
            num = None if s.categorical else _number_format(s, value, True)
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
            _estimate_cell(book, ws, row, name, kind, needs, lists)


def _value(ev: Evaluation, name: str):
    """What a cell shows: the value in its reporting unit (TRUE/FALSE for yes/no), or the error it computes."""
    if name in ev.unpublished:
        return "#N/A"
    value = ev.magnitude(name) if name in ev.base else "#DIV/0!"
    return bool(value) if ev.table.specs[name].boolean and not isinstance(value, str) else value


def _guarded(book: Book, needs: list[str], text: Formula, value, ev: Evaluation, refs: dict) -> tuple:
    """A result that means nothing when a condition it requires fails says so, not a number or #DIV/0!."""
    if not needs:
        return text, value
    held = all(ev.holds(r) is not False for r in needs)
    conditions = ",".join(refs.get(r, r) for r in needs)
    guarded = f'=IF(AND({conditions}),{text[1:]},"{NOT_FEASIBLE}")'
    if len(guarded) > MAX_FORMULA_LENGTH:  # the guard pushed it past Excel's limit: compute it in a helper cell
        ref = book._helper(text, value if not isinstance(value, str) else None)
        guarded = f'=IF(AND({conditions}),{ref},"{NOT_FEASIBLE}")'
    return Formula(guarded), (value if held else NOT_FEASIBLE)


def _estimate_cell(book: Book, ws, row: int, name: str, kind: str, needs: list[str], lists: dict) -> None:
    """The calibrated estimate beside the bound (column D): a factor's calibrated value, or the formula in
    estimate mode over the other estimate cells."""
    est = book.est
    s = est.table.specs[name]
    q = REGISTRY.get(name)
    value = _value(est, name)
    refs = {n: f"'{sheet}'!${xl_col_to_name(EST_COL)}${r + 1}" for n, (sheet, r) in book.where.items()
            if n in book.varies}
    names = {REGISTRY.get(n).symbol: ref for n, ref in refs.items()}
    if kind in ("neutral", "input"):  # an estimate factor, or an input the calibration sets (prefill MFU)
        book.put(ws, row, EST_COL, float(value), book.fmt(F.INPUT, num=_number_format(s, value, True)),
                 editable=True)
        _validation(book, ws, row, EST_COL, s, lists)
        book.cell(ws, row, EST_COL, "estimate_input", name, generated=float(value), kept=name in book.kept_est)
        return
    if kind == "rule" and name in est.rules:
        text = Formula("=" + refs.get(est.rules[name], est.rules[name]))
        book.put(ws, row, EST_COL, text, book.fmt(F.RULE, num=_number_format(s, value, True)), cached=value,
                 editable=True)
        book.cell(ws, row, EST_COL, "estimate_rule", name)
        return
    text = book.formula(excel_expr(q, pins=est.pins, mode=est.mode), names)
    text, value = _guarded(book, needs, text, value, est, refs)
    book.put(ws, row, EST_COL, text, book.fmt(F.ESTIMATE, num=_number_format(s, value, False)), cached=value)
    book.cell(ws, row, EST_COL, "estimate", name)
    if needs:
        conditions = ",".join(refs.get(r, r) for r in needs)
        ws.conditional_format(row, EST_COL, row, EST_COL, {
            "type": "formula", "criteria": f"=NOT(AND({conditions}))", "format": book.fmt(F.INFEASIBLE)})


def varying(ev: Evaluation, est: Evaluation) -> set[str]:
    """Quantities whose estimate may differ from their bound: the estimate factors, what is computed from them
    (or from a formula that changes in estimate mode), and inputs that follow such a quantity by a rule."""
    out: set[str] = set()
    while True:  # to a fixed point: a rule's target (the planning batch) is declared after its input (the batch)
        before = len(out)
        for s in ev.table:
            if s.kind == "constant" or s.name in out:
                continue
            if s.neutral is not None or (s.kind == "input" and est.provenance.get(s.name) == CALIBRATION
                                         and ev.provenance.get(s.name) != SET):
                out.add(s.name)
            elif s.name in ev.rules:
                if ev.rules[s.name] in out:
                    out.add(s.name)
            elif s.kind == "derived" and (s.formula_text("bound") != s.formula_text("estimate")
                                          or any(d in out for d in s.deps)):
                out.add(s.name)
            elif s.kind == "input" and ev.provenance.get(s.name) == RULE and any(d in out for d in s.deps):
                out.add(s.name)  # an input that follows its default rule over such quantities (prefill replicas)
        if len(out) == before:
            return out


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


def _sensitivities(book: Book, ws, sheet: Sheet) -> None:
    from ..sensitivity import elasticities, elasticity_formulas

    ev = book.ev
    row = 3
    for name in sheet.quantities:
        if name not in book.where or ev.kind(name) != "derived":
            continue
        values = {e.wrt: e.value for e in elasticities(ev, name)}
        book.put(ws, row, 0, f"Elasticities of {name}", book.fmt(F.SECTION))
        _header(book, ws, row + 1, ENGINEERING)
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


def _sweep(book: Book, ws, sheet: Sheet) -> None:
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
    for n in cols:  # each column's formula is printed once, with the row's batch cell as a placeholder
        shown[n] = in_reporting_units(exprs[n], REGISTRY.get(n))
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
                cell_formats[n] = book.fmt(F.DERIVED, num=_number_format(s, values[n][count // 2], False))
            text = Formula(templates[n].replace("{ROW}", str(row + 1))) if templates[n] is not None else \
                book.formula(shown[n], {vary.symbol: ref})
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


def _page(book: Book, ws, sheet: Sheet) -> None:
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
    if sheet.print == "one-page":
        ws.fit_to_pages(1, 1)
    else:
        ws.fit_to_pages(1, 0)
