"""Compiling declared formulas to numpy functions (scalars and arrays alike).

Constants are substituted by their base-unit values and categorical choices
resolved first, so the compiled function takes base-unit magnitudes of the
formula's direct dependencies and returns the base-unit magnitude.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache

import sympy

from .printing.numpy import codegen
from .quantity import REGISTRY, Quantity, Select


def rebuild(expr: sympy.Expr, mapping: Mapping[sympy.Basic, sympy.Expr]) -> sympy.Expr:
    """``expr.xreplace(mapping)``, but Max/Min with symbolic arguments are rebuilt without sympy's
    (slow, assumption-driven) search for redundant arguments; numbers still fold."""
    if expr in mapping:
        return mapping[expr]
    if not expr.args:
        return expr
    args = [rebuild(a, mapping) for a in expr.args]
    if isinstance(expr, sympy.Max | sympy.Min) and not all(a.is_Number for a in args):
        return expr.func(*args, evaluate=False)
    return expr.func(*args)


def resolve_choices(expr: sympy.Expr, choices: Mapping[str, str]) -> sympy.Expr:
    """``expr`` with every :class:`Select` replaced by the option its key's choice picks."""
    return expr.replace(
        lambda e: isinstance(e, Select),
        lambda e: e.choose(choices[REGISTRY.by_symbol(e.key).name]),
    )


def numeric_expr(q: Quantity, choices: Mapping[str, str], expr: sympy.Expr | None = None) -> sympy.Expr:
    """``q``'s formula (or ``expr``) with choices resolved and constants replaced by base-unit numbers.

    The result is in base units; it is what the numpy and Excel forms print.
    """
    return numeric(resolve_choices(q.expr if expr is None else expr, choices))


def numeric(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with every constant replaced by its base-unit number."""
    subs = {}
    for s in expr.free_symbols:
        if REGISTRY.by_symbol(s).kind == "constant":
            subs[s] = constant_value(s.name)
    return expr.xreplace(subs)


@cache
def constant_value(name: str) -> sympy.Expr:
    """A constant's base-unit value as an exact sympy number."""
    c = REGISTRY.get(name)
    return sympy.nsimplify(c.value * c.factor)


def choice_keys(q: Quantity) -> tuple[str, ...]:
    """Names of the categorical inputs ``q``'s formula selects on."""
    return tuple(sorted(REGISTRY.by_symbol(e.key).name for e in q.expr.atoms(Select)))


@cache
def _compile(name: str, choices: tuple[tuple[str, str], ...],
             keep: frozenset[str]) -> tuple[Callable, tuple[str, ...]]:
    q = REGISTRY.get(name)
    expr = numeric_expr(q, dict(choices), q.rederive(keep) if keep else q.expr)
    args = tuple(sorted(s.name for s in expr.free_symbols))
    generated = codegen([sympy.Symbol(a, positive=True) for a in args], [expr], name)

    def func(*values):
        return generated(*values)[0]

    return func, args


def compiled(q: Quantity, choices: Mapping[str, str],
             keep: frozenset[str] = frozenset()) -> tuple[Callable, tuple[str, ...]]:
    """The numpy function of ``q`` and the names of its arguments, in order.

    ``keep`` names pinned quantities that ``q``'s closed form opened up: the
    formula is derived again with them kept as names.
    """
    key = tuple((k, choices[k]) for k in choice_keys(q))
    return _compile(q.name, key, frozenset(keep))
