"""Rewriting formulas through their definitions (for derived-at and solved quantities)."""

from __future__ import annotations

import sympy

from .quantity import REGISTRY


def depends_on(expr: sympy.Expr, target: sympy.Symbol) -> bool:
    """Whether ``expr`` depends on ``target`` through any chain of derived formulas."""
    for s in expr.free_symbols:
        if s == target:
            return True
        q = REGISTRY.by_symbol(s)
        if q.kind == "derived" and depends_on(q.expr, target):
            return True
    return False


def inline(expr: sympy.Expr, target: sympy.Symbol) -> sympy.Expr:
    """``expr`` with every derived quantity that depends on ``target`` replaced by its formula.

    The result mentions ``target`` directly, so it can be substituted or solved
    for; quantities that do not depend on it stay as names.
    """
    subs = {}
    for s in expr.free_symbols:
        q = REGISTRY.by_symbol(s)
        if s != target and q.kind == "derived" and depends_on(q.expr, target):
            subs[s] = inline(q.expr, target)
    return expr.xreplace(subs)


def at(expr: sympy.Expr, target: sympy.Symbol, value: sympy.Expr) -> sympy.Expr:
    """``expr`` evaluated with ``target`` replaced by ``value`` (e.g. step time at the largest batch)."""
    return inline(expr, target).xreplace({target: value})
