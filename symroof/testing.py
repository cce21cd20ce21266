"""Unit assertions for your own tests.

>>> from symroof.testing import assert_unit
>>> from symroof import symbol
>>> assert_unit(symbol("kv_cache_bytes") / symbol("hbm_bandwidth"), "s*chip")
>>> assert_unit("step_time", "ms")

Only dimensions are compared (ms and s agree); the message names both units.
"""

from __future__ import annotations

import sympy

from .core.errors import UnitError
from .core.units import parse_unit
from .declare import REGISTRY, Quantity, dimension_of, format_dimension
from .derive import declared as _declared  # noqa: F401  (declares every quantity, with cached closed forms)

__all__ = ["assert_unit", "unit_of"]


def _expr(thing: str | Quantity | sympy.Expr) -> sympy.Expr:
    if isinstance(thing, str):
        thing = REGISTRY.get(thing)
    if isinstance(thing, Quantity):
        return thing.expr if thing.expr is not None else thing.symbol
    return sympy.sympify(thing, strict=True)


def unit_of(thing: str | Quantity | sympy.Expr):
    """The pint dimensionality of a quantity (by name), a :class:`Quantity`, or an expression over symroof's symbols."""
    return dimension_of(_expr(thing))


def assert_unit(thing: str | Quantity | sympy.Expr, unit: str) -> None:
    """Fail with a readable message unless ``thing`` has the dimensions of ``unit``."""
    expr = _expr(thing)
    want = parse_unit(unit).dimensionality
    try:
        have = dimension_of(expr)
    except UnitError as exc:
        raise AssertionError(f"{expr}: units do not combine: {exc}") from None
    if have != want:
        raise AssertionError(
            f"{expr} has units of {format_dimension(have)}, expected {unit} ({format_dimension(want)})")
