"""Lay out a template as a live-formula workbook for one evaluation.

Each quantity has one row and one workbook-scoped defined name (its public
name) on the cell that holds its value, in the unit ``symroof eval`` reports.
Formulas work in base units internally: the unit factors of every reference and
of the result come from the pint registry and are folded into the formula.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import numpy
import sympy
from openpyxl import Workbook
from openpyxl.chart import Reference, ScatterChart, Series
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from .. import __version__
from ..compile import numeric
from ..errors import SymroofError
from ..evaluate import Evaluation
from ..printing.excel import MAX_FORMULA_LENGTH, excel_formula
from ..quantity import REGISTRY, Quantity, shown
from ..sensitivity import elasticity_formulas
from ..symbolic import formula_for, inline
from .names import check_names
from .template import Sheet, Template, TemplateError

META_SHEET = "_symroof"
LISTS_SHEET = "Lists"
HELPERS_SHEET = "Helpers"
MAX_SWEEP_ROWS = 512
HEADER = ["Name", "Symbol", "Value", "Unit", "Description", "Source", "Formula"]
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
RULE_FILL = PatternFill("solid", fgColor="FDF8E6")
HEAD_FILL = PatternFill("solid", fgColor="D9E1F2")
INPUT_FONT = Font(color="0000FF")
BOLD = Font(bold=True)


@dataclass(frozen=True)
class CellInfo:
    """What a generated cell holds, for checks and for carrying a planner's edits."""

    sheet: str
    cell: str
    kind: str  # input, rule, derived, elasticity, sweep, sweep_input, helper
    name: str
    detail: str = ""  # elasticity: the input; sweep: the batch-size cell


def plain_symbol(display: str) -> str:
    """A LaTeX display symbol as plain text (``T_{\\text{step}}`` -> ``T_step``)."""
    text = display
    for cmd in ("\\text", "\\operatorname", "\\mathrm"):
        text = text.replace(cmd, "")
    for a, b in (("\\max", "max"), ("\\min", "min"), ("\\lambda", "λ"), ("\\$", "$"), ("{", ""), ("}", ""),
                 ("\\", "")):
        text = text.replace(a, b)
    return text


def set_text(cell, value: str) -> None:
    """Write outside text as text: a leading =, +, - or @ never becomes a formula."""
    cell.value = value
    cell.data_type = "s"


def factor(q: Quantity) -> sympy.Expr:
    """Base units per reporting unit, exact where it can be (1e9 -> 1000000000)."""
    return _factor(q.name)


@cache
def _factor(name: str) -> sympy.Expr:
    return sympy.nsimplify(REGISTRY.get(name).factor, rational=True)


def to_display(expr: sympy.Expr, unit_of: Quantity | None) -> sympy.Expr:
    """``expr`` (base units) over cells in reporting units, giving ``unit_of``'s reporting unit."""
    expr = numeric(expr)
    subs = {}
    for s in expr.free_symbols:
        q = REGISTRY.by_symbol(s)
        if not q.categorical and q.factor != 1:
            subs[s] = factor(q) * s
    expr = expr.xreplace(subs)
    expr = expr / factor(unit_of) if unit_of is not None and unit_of.factor != 1 else expr
    return expr.replace(lambda e: isinstance(e, (sympy.Max, sympy.Min)), _common_factor_out)


def _common_factor_out(node: sympy.Expr) -> sympy.Expr:
    """``Max(a/1000, b/1000)`` as ``Max(a, b)/1000``: unit factors shared by every branch, pulled out."""
    coeffs = [a.as_coeff_Mul()[0] for a in node.args]
    c = coeffs[0]
    if c == 1 or not c.is_positive or any(x != c for x in coeffs):
        return node
    return c * type(node)(*(a / c for a in node.args))


class _Book:
    """The workbook being written, with the bookkeeping formulas need."""

    def __init__(self, ev: Evaluation, template: Template) -> None:
        self.ev = ev
        self.template = template
        self.wb = Workbook()
        self.wb.remove(self.wb.active)
        self.cells: list[CellInfo] = []
        self.pins = frozenset(n for n, o in ev.origin.items() if o == "set")
        self.placed: dict[str, tuple[str, int]] = {}
        self.helpers = None
        self._display: dict = {}

    # --- formulas ---
    def formula(self, expr: sympy.Expr, unit_of: Quantity | None, names: dict | None = None) -> str:
        """The Excel formula of ``expr``, split into helper cells if it is too long."""
        key = (expr, unit_of.name if unit_of is not None else None)
        if key not in self._display:
            self._display[key] = to_display(expr, unit_of)
        expr = self._display[key]
        available = {REGISTRY.get(n).symbol for n in self.placed}
        return self._fit(expr, dict(names or {}), available)

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
            names[helper] = self._helper(self._fit(part, names, available))
            available = available | {helper}
            expr = expr.xreplace({part: helper}) if compound else expr.func(helper, *expr.args[len(part.args):])
            text = excel_formula(expr, names, available)
        return text

    def _helper(self, formula: str) -> str:
        if self.helpers is None:
            self.helpers = self.wb.create_sheet(HELPERS_SHEET)
            self.helpers["A1"] = "Helper cells for formulas longer than Excel's 8,192 characters."
        row = self.helpers.max_row + 1
        self.helpers.cell(row, 2, formula)
        self.cells.append(CellInfo(HELPERS_SHEET, f"B{row}", "helper", ""))
        return f"'{HELPERS_SHEET}'!$B${row}"


def _placement(template: Template, ev: Evaluation) -> list[tuple[Sheet, str, list[str]]]:
    """(sheet, section title, names) in order, each available quantity placed exactly once."""
    available = set(ev.names())
    placed: set[str] = set()
    out = []
    for sheet in template.sheets:
        if sheet.kind != "rows":
            continue
        for sec in sheet.sections:
            names = [n for n in sec.names if n in available]
            twice = [n for n in names if n in placed]
            if twice:
                raise TemplateError(f"{template.path}: {twice[0]} is placed twice")
            placed.update(names)
            out.append((sheet, sec.title, names))
    rest = [s for s in template.sheets if s.rest]
    if rest:
        for group in dict.fromkeys(q.group for q in REGISTRY if q.kind != "constant"):
            names = [q.name for q in REGISTRY if q.group == group and q.name in available and q.name not in placed]
            if names:
                placed.update(names)
                out.append((rest[0], group.capitalize(), names))
    for name in available - placed:
        users = [q.name for q in REGISTRY if q.name in placed and REGISTRY.get(name) in q.dependencies]
        if users:
            raise TemplateError(f"{template.path}: does not place {name}, which {users[0]} needs")
    return out


def build(ev: Evaluation, template: Template) -> tuple[Workbook, list[CellInfo]]:
    """The workbook for ``ev`` laid out by ``template``, and what each generated cell holds."""
    book = _Book(ev, template)
    layout = _placement(template, ev)
    check_names([n for _, _, names in layout for n in names] + ["dtype_choices", "compute_dtype_choices"])
    sheets = {s.name: book.wb.create_sheet(s.name) for s in template.sheets}
    rows: dict[str, int] = {}
    for sheet in template.sheets:  # titles, notes and headers first, so rows are known before formulas
        ws = sheets[sheet.name]
        ws["A1"] = f"{template.title}: {ev.model.name} on {ev.hardware.name}" if sheet is template.sheets[0] \
            else sheet.name
        ws["A1"].font = Font(bold=True, size=14)
        if sheet.note:
            set_text(ws["A2"], sheet.note)
        rows[sheet.name] = 3
    # allocate every quantity's row before writing any formula
    plan = []
    for sheet, title, names in layout:
        r = rows[sheet.name] + 1
        plan.append((sheet, title, r, names))
        for i, name in enumerate(names):
            book.placed[name] = (sheet.name, r + 2 + i)
        rows[sheet.name] = r + 2 + len(names)
    _lists(book)
    for name, (sheet_name, row) in book.placed.items():
        book.wb.defined_names[name] = DefinedName(name, attr_text=f"'{sheet_name}'!$C${row}")
    for sheet, title, r, names in plan:
        _section(book, sheets[sheet.name], title, r, names, thresholds=sheet.name == "Thresholds")
    for sheet in template.sheets:
        if sheet.kind == "sensitivities":
            _sensitivities(book, sheets[sheet.name], sheet)
        elif sheet.kind == "sweep":
            _sweep(book, sheets[sheet.name], sheet)
    for ws in sheets.values():
        for col, width in zip("ABCDEFGHI", (30, 16, 18, 16, 60, 50, 60, 50, 50), strict=False):
            ws.column_dimensions[col].width = width
    _meta(book)
    book.wb.calculation.fullCalcOnLoad = True
    return book.wb, book.cells


def _lists(book: _Book) -> None:
    """Drop-down choices on a hidden sheet, reached through defined names."""
    ws = book.wb.create_sheet(LISTS_SHEET)
    ws.sheet_state = "hidden"
    dtypes = REGISTRY.get("weight_dtype").choices
    compute = REGISTRY.get("compute_dtype")
    chip_flops = REGISTRY.get("chip_flops")
    if book.ev.origin.get("chip_flops") == "set":
        usable = list(compute.choices)
    else:
        select = chip_flops.expr
        usable = [c for c, opt in zip(compute.choices, select.options, strict=True)
                  if all(s.name in book.placed for s in opt.free_symbols)]
    for col, (name, values) in enumerate((("dtype_choices", dtypes), ("compute_dtype_choices", usable)), 1):
        ws.cell(1, col, name)
        for i, v in enumerate(values):
            ws.cell(2 + i, col, v)
        letter = get_column_letter(col)
        book.wb.defined_names[name] = DefinedName(
            name, attr_text=f"'{LISTS_SHEET}'!${letter}$2:${letter}${1 + len(values)}")


def _header(ws, row: int, extra: list[str]) -> None:
    for col, text in enumerate(HEADER + extra, 1):
        c = ws.cell(row, col, text)
        c.font = BOLD
        c.fill = HEAD_FILL


def _validation(ws, q: Quantity, cell) -> None:
    where = f"{q.name} ({q.unit or 'a plain number'})"
    if q.categorical:
        list_name = "compute_dtype_choices" if q.name == "compute_dtype" else "dtype_choices"
        dv = DataValidation(type="list", formula1=list_name, allow_blank=False,
                            error=f"{q.name} must be one of the listed dtypes.")
    elif q.at_most is not None:
        dv = DataValidation(type="decimal", operator="between", formula1="0.000000001", formula2=str(q.at_most),
                            error=f"{where} must be above 0 and at most {q.at_most:g}.")
    else:
        dv = DataValidation(type="whole" if q.integer else "decimal", operator="greaterThan", formula1="0",
                            error=f"{where} must be a positive {'whole ' if q.integer else ''}number.")
    dv.showErrorMessage = True
    dv.errorTitle = "symroof: invalid input"
    dv.promptTitle = q.name
    dv.prompt = q.description[:255]
    dv.showInputMessage = True
    ws.add_data_validation(dv)
    dv.add(cell)


def _section(book: _Book, ws, title: str, r: int, names: list[str], thresholds: bool) -> None:
    ev = book.ev
    ws.cell(r, 1, title).font = Font(bold=True, size=12)
    extra = ["Solved from", "Holds when"] if thresholds else []
    _header(ws, r + 1, extra)
    for i, name in enumerate(names):
        q = REGISTRY.get(name)
        row = r + 2 + i
        origin = ev.origin[name]
        set_text(ws.cell(row, 1), name)
        set_text(ws.cell(row, 2), plain_symbol(q.display))
        set_text(ws.cell(row, 4), f"{q.unit:~P}" if str(q.unit) != "dimensionless" else "")
        set_text(ws.cell(row, 5), q.description)
        set_text(ws.cell(row, 6), ev.source(name))
        cell = ws.cell(row, 3)
        rule = origin == "default" and q.has_rule
        if q.kind == "derived" and origin != "set":
            cell.value = book.formula(formula_for(q.name, book.pins), q)
            set_text(ws.cell(row, 7), f"{name} = {q.formula_text()}")
            kind = "derived"
        elif rule:
            cell.value = book.formula(q.expr, q)
            cell.fill, cell.font = RULE_FILL, INPUT_FONT
            set_text(ws.cell(row, 7), f"default: {name} = {q.formula_text()}")
            _validation(ws, q, cell)
            kind = "rule"
        else:
            value = ev.magnitude(name)
            if q.categorical:
                set_text(cell, value)
            else:
                cell.value = float(value)
            cell.fill, cell.font = INPUT_FILL, INPUT_FONT
            set_text(ws.cell(row, 7), "input" if q.kind == "input" else "pinned (set on export)")
            _validation(ws, q, cell)
            kind = "input"
        if thresholds and q.derivation is not None:
            eq = q.derivation
            set_text(ws.cell(row, 8), f"{sympy.sstr(shown(eq.lhs))} = {sympy.sstr(shown(eq.rhs))}, for {q.unknown}")
            set_text(ws.cell(row, 9), q.regime or "")
        ws.cell(row, 7).alignment = Alignment(wrap_text=False)
        book.cells.append(CellInfo(ws.title, f"C{row}", kind, name))


def _sensitivities(book: _Book, ws, sheet: Sheet) -> None:
    ev = book.ev
    row = 4
    for name in sheet.quantities:
        if name not in book.placed:
            continue
        ws.cell(row, 1, f"Elasticities of {name}").font = Font(bold=True, size=12)
        _header(ws, row + 1, [])
        row += 2
        for wrt, formula in elasticity_formulas(ev, name):
            if wrt not in book.placed:
                continue
            set_text(ws.cell(row, 1), f"e({name}, {wrt})")
            set_text(ws.cell(row, 2), f"d ln {name} / d ln {wrt}")
            ws.cell(row, 3).value = book.formula(formula, None)
            set_text(ws.cell(row, 5), f"1% more {wrt} changes {name} by about this many %.")
            set_text(ws.cell(row, 6), "symroof: sympy derivative of the formula")
            book.cells.append(CellInfo(ws.title, f"C{row}", "elasticity", name, wrt))
            row += 1
        row += 1


def _sweep(book: _Book, ws, sheet: Sheet) -> None:
    ev = book.ev
    vary = REGISTRY.get(sheet.vary)
    cols = [n for n in sheet.quantities if n in book.placed]
    top = 4
    headers = [vary.name, "fits in HBM"] + cols
    for col, text in enumerate(headers, 1):
        q = REGISTRY.get(text) if text in REGISTRY else None
        c = ws.cell(top, col, f"{text} [{q.unit:~P}]" if q is not None and str(q.unit) != "dimensionless" else text)
        c.font, c.fill = BOLD, HEAD_FILL
    largest = ev.magnitude("max_batch_size") if "max_batch_size" in ev.base else 1
    count = int(min(max(1, largest), MAX_SWEEP_ROWS))
    exprs = {n: inline(REGISTRY.get(n).symbol, vary.symbol, book.pins) for n in cols}
    for i in range(count):
        row = top + 1 + i
        ref = f"$A{row}"
        cell = ws.cell(row, 1, float(i + 1))
        cell.fill, cell.font = INPUT_FILL, INPUT_FONT
        book.cells.append(CellInfo(ws.title, f"A{row}", "sweep_input", vary.name))
        ws.cell(row, 2, f"={ref}<=max_batch_size" if "max_batch_size" in book.placed else "=TRUE")
        book.cells.append(CellInfo(ws.title, f"B{row}", "sweep_fits", vary.name, ref))
        for j, n in enumerate(cols):
            q = REGISTRY.get(n)
            ws.cell(row, 3 + j, book.formula(exprs[n], q, {vary.symbol: ref}))
            book.cells.append(CellInfo(ws.title, f"{get_column_letter(3 + j)}{row}", "sweep", n, ref))
    last = top + count
    for k, chart in enumerate(sheet.charts):
        sc = ScatterChart()
        sc.title = chart.title
        sc.style = 13
        xcol = headers.index(chart.x) + 1
        sc.x_axis.title = ws.cell(top, xcol).value
        sc.y_axis.title = ", ".join(chart.y)
        if chart.log_y:
            sc.y_axis.scaling.logBase = 10
        xref = Reference(ws, min_col=xcol, min_row=top + 1, max_row=last)
        for y in chart.y:
            ycol = headers.index(y) + 1
            series = Series(Reference(ws, min_col=ycol, min_row=top, max_row=last), xref, title_from_data=True)
            series.marker.symbol = "circle"
            series.marker.size = 4
            sc.series.append(series)
        sc.x_axis.delete = False
        sc.y_axis.delete = False
        sc.height, sc.width = 9, 16
        ws.add_chart(sc, f"{get_column_letter(len(headers) + 2)}{top + k * 20}")


def _meta(book: _Book) -> None:
    """A hidden sheet recording what was generated: for staleness checks and --keep-inputs."""
    ws = book.wb.create_sheet(META_SHEET)
    ws.sheet_state = "hidden"
    ev = book.ev
    info = {"generator": f"symroof {__version__}", "model": ev.model.id, "hardware": ev.hardware.id,
            "template": book.template.name}
    for i, (k, v) in enumerate(info.items(), 1):
        ws.cell(i, 1, k)
        set_text(ws.cell(i, 2), v)
    row = len(info) + 2
    for col, text in enumerate(("sheet", "cell", "kind", "name", "detail", "generated value"), 1):
        ws.cell(row, col, text)
    for c in book.cells:
        row += 1
        for col, text in enumerate((c.sheet, c.cell, c.kind, c.name, c.detail), 1):
            set_text(ws.cell(row, col), text)
        if c.kind == "input":
            value = ev.magnitude(c.name)
            set_text(ws.cell(row, 6), json.dumps(value if isinstance(value, str) else float(numpy.asarray(value))))


def cell_map(wb) -> list[CellInfo]:
    """The generated cells recorded in a workbook's metadata sheet."""
    if META_SHEET not in wb.sheetnames:
        raise SymroofError("not a symroof workbook (no metadata sheet)")
    ws = wb[META_SHEET]
    out = []
    started = False
    for row in ws.iter_rows(values_only=True):
        if row and row[0] == "sheet":
            started = True
            continue
        if started and row and row[0]:
            out.append(CellInfo(row[0], row[1], row[2], row[3] or "", row[4] or ""))
    return out


def meta(wb) -> dict[str, str]:
    """The metadata of a symroof workbook (model, hardware, template, generator)."""
    if META_SHEET not in wb.sheetnames:
        raise SymroofError("not a symroof workbook (no metadata sheet)")
    out = {}
    for row in wb[META_SHEET].iter_rows(values_only=True):
        if row and row[0] == "sheet":  # the cell map starts here
            break
        if row and row[0]:
            out[row[0]] = row[1]
    return out


def generated_inputs(wb) -> dict[str, object]:
    """Input values as generated (JSON in the metadata), by quantity name."""
    ws = wb[META_SHEET]
    out = {}
    for row in ws.iter_rows(values_only=True):
        if row and len(row) >= 6 and row[2] == "input" and row[5] is not None:
            out[row[3]] = json.loads(row[5])
    return out
