"""The sympy-to-Excel printer, checked by a real spreadsheet engine (the formulas package).

Each expression is printed into a workbook over defined names, computed by
``formulas`` with Excel semantics, and compared with sympy's own evaluation.
"""

import math

import openpyxl
import pytest
import sympy
from openpyxl.workbook.defined_name import DefinedName
from sympy.codegen.cfunctions import log2

from symroof import symbol
from symroof.core.errors import SymroofError
from symroof.printing.excel import ExcelPrintError, excel_formula
from symroof.workbook.names import check_names, name_problem

from .workbook_check import formulas_values

x, y, z = sympy.symbols("x y z", positive=True)
POINT = {x: 2.0, y: 3.0, z: 0.5}

CASES = [
    -x**2,  # Excel: =-x^2 would be +4
    y - x**2,
    -x * y + z,
    x**(y**z),  # Excel's ^ is left-associative
    (x + y)**-2,
    x / (y * z),
    sympy.Rational(1, 3) * x,
    2 * x / 3,
    sympy.Max(x, y) - 3,
    sympy.Min(x, y, z),
    sympy.ceiling(x / 3 + z),
    sympy.floor(y / x),
    sympy.log(x),  # natural log: LN, not LOG
    log2(x * 4),
    sympy.exp(z),
    x**sympy.Rational(3, 2),
    sympy.sqrt(y),
    sympy.Float(1.5e-7) * x,
    sympy.Float(2.5e20) / y,
    -(x + y) / z,
    2**sympy.ceiling(log2(y)),
    sympy.Heaviside(x - y),
    sympy.Piecewise((x, y > 2), (z, True)),
]


def test_printed_formulas_compute_as_sympy_does(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    for i, (s, v) in enumerate(POINT.items(), 1):
        ws.cell(i, 1, v)
        wb.defined_names[s.name] = DefinedName(s.name, attr_text=f"'S'!$A${i}")
    for i, expr in enumerate(CASES, 1):
        ws.cell(i, 2, excel_formula(expr))
    path = tmp_path / "printer.xlsx"
    wb.save(path)
    got = formulas_values(path)
    for i, expr in enumerate(CASES, 1):
        want = float(expr.subs(POINT).evalf(30))
        assert math.isclose(got[("S", f"B{i}")], want, rel_tol=1e-12), (expr, excel_formula(expr))


def test_traps_are_printed_explicitly():
    assert excel_formula(-x**2) == "=-(x^2)"
    assert excel_formula(x**(y**z)) == "=x^(y^z)"
    assert excel_formula(sympy.log(x)) == "=LN(x)"
    assert excel_formula(log2(x)) == "=LOG(x,2)"
    assert excel_formula(sympy.ceiling(x)) == "=CEILING(x,1)"


@pytest.mark.parametrize("expr", [sympy.sin(x), sympy.gamma(x), sympy.Integral(x, x), sympy.I * x,
                                  sympy.Piecewise((x, y > 1))])
def test_unsupported_expressions_are_refused(expr):
    with pytest.raises(ExcelPrintError):
        excel_formula(expr)


def test_select_prints_nested_ifs_and_skips_missing_options():
    chip_flops = symbol("chip_flops")
    from symroof import formula

    rule = formula("chip_flops").expr
    text = excel_formula(rule, available={symbol("chip_flops_bf16"), symbol("chip_flops_int8"), chip_flops})
    assert text == ('=IF(compute_dtype="bf16",chip_flops_bf16,IF(compute_dtype="int8",chip_flops_int8,NA()))')


@pytest.mark.parametrize("name", ["H100", "TP8", "HBM3", "LOG2", "R", "C", "r", "c", "R1C1", "XFD1048576", "1x",
                                  "a b", "TRUE"])
def test_invalid_defined_names(name):
    assert name_problem(name) is not None
    with pytest.raises(SymroofError, match="cannot be an Excel defined name"):
        check_names([name])


def test_valid_defined_names_and_case_collisions():
    assert name_problem("XFE1") is None  # past the last column, so not a cell
    assert name_problem("step_time") is None
    with pytest.raises(SymroofError, match="collide"):
        check_names(["batch_size", "Batch_Size"])
