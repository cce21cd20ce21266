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


def inline(expr: sympy.Expr, target: sympy.Symbol, keep: frozenset[str] = frozenset()) -> sympy.Expr:
    """``expr`` with every derived quantity that depends on ``target`` replaced by its formula.

    The result mentions ``target`` directly, so it can be substituted or solved
    for; quantities that do not depend on it, and those named in ``keep``, stay as names.
    """
    subs = {}
    for s in expr.free_symbols:
        q = REGISTRY.by_symbol(s)
        if s != target and q.kind == "derived" and q.name not in keep and depends_on(q.expr, target):
            subs[s] = inline(q.expr, target, keep)
    return expr.xreplace(subs)


def at(expr: sympy.Expr, target: sympy.Symbol, value: sympy.Expr, keep: frozenset[str] = frozenset()) -> sympy.Expr:
    """``expr`` evaluated with ``target`` replaced by ``value`` (e.g. step time at the largest batch)."""
    return inline(expr, target, keep).xreplace({target: value})


def reachable(symbols) -> set[str]:
    """Names of the quantities ``symbols`` refer to, directly or through derived formulas."""
    out: set[str] = set()
    todo = list(symbols)
    while todo:
        q = REGISTRY.by_symbol(todo.pop())
        if q.name in out:
            continue
        out.add(q.name)
        if q.kind == "derived":
            todo.extend(q.expr.free_symbols)
    return out


def bypassed(name: str) -> set[str]:
    """Derived quantities that ``name`` was derived through but whose names its formula no longer uses.

    A solved or substituted formula opens up intermediate quantities; pinning
    one of those would not reach it.
    """
    q = REGISTRY.get(name)
    if q.basis is None:
        return set()
    via = reachable(q.basis) - reachable(q.expr.free_symbols)
    return {n for n in via if REGISTRY.get(n).kind == "derived"}


def full_inline(expr: sympy.Expr, stop: set[str] = frozenset()) -> sympy.Expr:
    """``expr`` over inputs and constants only: every derived quantity not in ``stop`` opened up."""
    subs = {}
    for s in expr.free_symbols:
        q = REGISTRY.by_symbol(s)
        if q.kind == "derived" and q.name not in stop:
            subs[s] = full_inline(q.expr, stop)
    return expr.xreplace(subs)
