"""The workbook being written: one cell at a time, formulas printed (and split into helper cells), digests kept.

Everything written goes through :meth:`Book.put`, which records it for the
digests that let a later export see what a planner changed. Every formula
cell also carries the value symroof computed, so viewers that do not
calculate (file previews, pandas, openpyxl ``data_only``) show numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy
import sympy
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from ..core.errors import SymroofError
from ..core.numeric import LAMBERTW_STEPS, LAMBERTW_SWITCH, lambertw_start, lambertw_step
from ..declare import Select
from ..derive.declared import REGISTRY
from ..derive.lower import resolve
from ..evaluation import CALIBRATION, RULE, SET, Evaluation
from ..printing.excel import MAX_FORMULA_LENGTH as EXCEL_LIMIT
from ..printing.excel import excel_formula
from . import metadata
from .blanks import NOT_FINITE, blank_ref
from .template import Template

#: Longest formula one cell may hold; a longer one is split into helper cells (a test lowers it to force splits).
MAX_FORMULA_LENGTH = EXCEL_LIMIT
HELPER_WRAP = len(f'=IFERROR(,"{NOT_FINITE}")')  # what a helper cell's IFERROR adds to the part it holds
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
        self._reading: Evaluation | None = None  # while a formula is printed: the evaluation its references read
        self.blanks: dict[str, str] = {}  # input -> its note: a blank cell the planner fills (blanks.py)
        self.reasons: dict[str, str] = {}  # formula -> the sentence it shows without a number (bound)
        self.reasons_est: dict[str, str] = {}  # likewise, the estimate column

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
            ws.write_formula(row, col, value.text, fmt, cached_value(cached))
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
    def formula(self, expr: sympy.Expr, names: Mapping | None = None, blanks: Iterable[str] | None = None,
                ev: Evaluation | None = None) -> Formula:
        """The Excel formula of ``expr`` (reporting units already), split into helper cells if too long.

        Lambert W, which Excel lacks, is computed in helper cells first (see :meth:`_lambertw`). A blank
        input cell (``blanks``, the book's own by default) is read through ISBLANK: never a silent zero.
        """
        available = {REGISTRY.get(n).symbol for n in self.where}
        names = dict(names or {})
        for name in self.blanks if blanks is None else blanks:
            symbol = REGISTRY.get(name).symbol
            if symbol in expr.free_symbols:
                names[symbol] = blank_ref(names.get(symbol, name))
        if expr.has(Select):
            expr = resolve(expr, self.ev.structure)  # dense or MoE is fixed by the model, not a planner's choice
        self._reading = ev  # the evaluation whose cells ``names`` refer to: helper cells cache its values
        try:
            expr, available = self._lambertw(expr, names, available)
            return Formula(self._fit(expr, names, available))
        finally:
            self._reading = None

    def _lambertw(self, expr: sympy.Expr, names: dict, available: set) -> tuple[sympy.Expr, set]:
        """``expr`` with each LambertW(x) replaced by a helper cell that computes it: x, a first guess, then
        the same fixed number of Halley steps as :func:`symroof.generated.lambertw`."""
        while True:
            nodes = [n for n in expr.atoms(sympy.LambertW) if not n.args[0].has(sympy.LambertW)]
            if not nodes:
                return expr, available
            node = nodes[0]
            x_value = self._value_of(node.args[0], names)
            x_ref = self._helper(self._fit(node.args[0], names, available), x_value)
            p = f"SQRT(MAX(2*(EXP(1)*{x_ref}+1),0))"
            # a text (no number upstream, an input not published) carries through the Halley steps as text
            w_value = x_value if x_value is None or isinstance(x_value, str) else float(
                lambertw_start(numpy.float64(x_value)))
            w_ref = self._helper(f"=IF({x_ref}<{LAMBERTW_SWITCH},-1+{p}-{p}^2/3+11/72*{p}^3,"
                                 f"LN(1+MAX({x_ref},{LAMBERTW_SWITCH})))", w_value)
            for _ in range(LAMBERTW_STEPS):
                f = f"({w_ref}*EXP({w_ref})-{x_ref})"
                if w_value is not None and not isinstance(w_value, str):
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
        while len(text) + HELPER_WRAP > MAX_FORMULA_LENGTH:  # room for the IFERROR of a helper (or a note's)
            compound = [a for a in _parts(expr) if not a.is_Atom and not isinstance(a, sympy.Tuple)]
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
        """A helper cell's value at the operating point (reporting units), for its cached result: the choices the
        workbook holds (a workload, a dtype) taken, a cell of the estimate's column read from the estimate."""
        if expr.has(Select):
            expr = resolve(expr, {n: v for n, v in self.ev.base.items() if self.ev.table.specs[n].categorical})
        reading = self._reading
        source = reading or self.ev
        point = {}
        for s in expr.free_symbols:
            if isinstance(s, sympy.Dummy) and isinstance(self.helper_values.get(s), str):
                return self.helper_values[s]  # a helper with no number: neither has this one
            if isinstance(s, sympy.Dummy) and self.helper_values.get(s) is not None:
                point[s] = sympy.Float(self.helper_values[s], 17)
            elif not isinstance(s, sympy.Dummy) and s.name in source.unavailable and (
                    s not in names or reading is not None):
                return NOT_FINITE  # no number here (no KV pool, say): the cell says so, as a result's does
            elif (not isinstance(s, sympy.Dummy) and (s not in names or reading is not None)
                  and s.name in source.base and s.name not in source.unavailable
                  and not REGISTRY.get(s.name).categorical):
                point[s] = sympy.Float(float(source.magnitude(s.name)), 17)
            else:
                return None  # a reference to a sweep row, or a choice: the spreadsheet computes it
        try:
            value = float(expr.xreplace(point).evalf(17))
        except (TypeError, AttributeError):  # not a number (a yes/no condition): the spreadsheet computes it
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
        body = text[1:] if text.startswith("=") else text
        # a part with no number (a text upstream) says so in words, never as a spreadsheet error
        self.put(self.helpers, row, 1, Formula(f'=IFERROR({body},"{NOT_FINITE}")'), cached=value)
        self.cell(self.helpers, row, 1, "helper")
        return f"'{HELPERS_SHEET}'!$B${row + 1}"


def _parts(expr: sympy.Expr) -> tuple:
    """The parts of ``expr`` a helper cell may hold: a Piecewise's branch values and conditions, not the pairs."""
    if isinstance(expr, sympy.Piecewise):
        return tuple(x for pair in expr.args for x in pair.args)
    if isinstance(expr, Select):  # a choice's options, never its (choice, option) pairs
        return expr.options
    return expr.args


class Formula(str):
    """A cell formula (with its leading ``=``)."""

    @property
    def text(self) -> str:
        return str(self)


def cached_value(value):
    if value is None:
        return ""  # no value known: an empty result makes spreadsheets compute it
    if isinstance(value, bool | str):
        return value
    value = float(value)
    return value if numpy.isfinite(value) else "#NUM!"


# --- the workbook -----------------------------------------------------------------------------------------------


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
