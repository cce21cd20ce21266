"""Dimension checker for sympy expressions over declared quantities.

One small rule per expression node, as Pyomo's unit checker does. sympy's own
``physics.units`` treats ``Max``/``Min`` as dimensionless, so it is not used.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy
from pint.util import UnitsContainer
from sympy.codegen.cfunctions import log2

from ..core.errors import UnitError
from .functions import ErlangC, Saturation, Select
from .quantity import REGISTRY, Quantity

Dim = UnitsContainer
NONE = UnitsContainer()


def format_dimension(dim: Dim) -> str:
    """``[information] / [time]``, or ``dimensionless``."""
    return str(dim) if dim else "dimensionless"


def _same(node: sympy.Basic, args) -> Dim:
    """All arguments share one dimension; a literal zero fits any (``Max(0, x)``)."""
    dims = [dimension_of(a) for a in args if not (a.is_Number and a.is_zero)] or [NONE]
    for d in dims[1:]:
        if d != dims[0]:
            listed = ", ".join(sorted({format_dimension(x) for x in dims}))
            raise UnitError(f"{type(node).__name__} of mismatched units ({listed}) in {node}")
    return dims[0]


def _dimensionless_arg(node: sympy.Basic) -> Dim:
    for a in node.args:
        d = dimension_of(a)
        if d != NONE:
            raise UnitError(
                f"{type(node).__name__} needs a dimensionless argument, got {format_dimension(d)} in {node}")
    return NONE


def _symbol(node: sympy.Symbol) -> Dim:
    if node not in REGISTRY.symbols():
        raise UnitError(f"symbol {node} is not a declared symroof quantity, so its units are unknown")
    return REGISTRY.by_symbol(node).unit.dimensionality


def _mul(node: sympy.Mul) -> Dim:
    dim = NONE
    for a in node.args:
        dim = dim * dimension_of(a)
    return dim


def _pow(node: sympy.Pow) -> Dim:
    base, exp = node.args
    if dimension_of(exp) != NONE:
        raise UnitError(f"exponent must be dimensionless in {node}")
    dim = dimension_of(base)
    if dim == NONE:
        return NONE
    if not exp.is_Rational:
        raise UnitError(f"a quantity with units can only be raised to a fixed number in {node}")
    return dim ** float(exp) if not exp.is_Integer else dim ** int(exp)


def _piecewise(node: sympy.Piecewise) -> Dim:
    for _, cond in node.args:
        _condition(cond)
    return _same(node, [e for e, _ in node.args])


def _condition(cond: sympy.Basic) -> Dim:
    """A relation compares like with like; ``&``, ``|`` and ``~`` combine relations."""
    if isinstance(cond, sympy.core.relational.Relational):
        _same(cond, cond.args)
    elif isinstance(cond, sympy.logic.boolalg.BooleanFunction):
        for a in cond.args:
            _condition(a)
    return NONE


RULES: dict[type, Callable[[sympy.Basic], Dim]] = {
    sympy.Symbol: _symbol,
    sympy.Number: lambda node: NONE,
    sympy.NumberSymbol: lambda node: NONE,
    sympy.Add: lambda node: _same(node, node.args),
    sympy.Mul: _mul,
    sympy.Pow: _pow,
    sympy.Max: lambda node: _same(node, node.args),
    sympy.Min: lambda node: _same(node, node.args),
    sympy.Piecewise: _piecewise,
    sympy.core.relational.Relational: _condition,
    sympy.logic.boolalg.BooleanFunction: _condition,
    sympy.logic.boolalg.BooleanAtom: lambda node: NONE,
    Select: lambda node: _same(node, node.options),
    sympy.ceiling: _dimensionless_arg,
    sympy.floor: _dimensionless_arg,
    sympy.log: _dimensionless_arg,
    log2: _dimensionless_arg,
    sympy.exp: _dimensionless_arg,
    sympy.LambertW: _dimensionless_arg,
    ErlangC: _dimensionless_arg,
    Saturation: _dimensionless_arg,
}


def dimension_of(expr: sympy.Basic) -> Dim:
    """The pint dimensionality of ``expr``; :class:`UnitError` if it does not combine."""
    for cls in type(expr).__mro__:
        rule = RULES.get(cls)
        if rule is not None:
            return rule(expr)
    raise UnitError(f"cannot check the units of {type(expr).__name__} in {expr}")


def check_units(q: Quantity) -> None:
    """Raise :class:`UnitError` unless ``q``'s formula has the dimensions of its unit (a literal 0 fits any)."""
    if q.expr.is_Number and q.expr.is_zero:
        return
    try:
        have = dimension_of(q.expr)
    except UnitError as exc:
        raise UnitError(f"formula {q.name}: {exc}") from None
    want = q.unit.dimensionality
    if have != want:
        raise UnitError(
            f"formula {q.name} has units of {format_dimension(have)} "
            f"but is declared in {q.unit or 'dimensionless'} ({format_dimension(want)})")
