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


def _product(expr: sympy.Expr) -> bool:
    """A product of powers of symbols and numbers (no sums, no functions)."""
    if expr.is_Symbol or expr.is_Number:
        return True
    if isinstance(expr, sympy.Pow):
        return _product(expr.base) and expr.exp.is_Number
    return isinstance(expr, sympy.Mul) and all(_product(a) for a in expr.args)


def inline(expr: sympy.Expr, target: sympy.Symbol, keep: frozenset[str] = frozenset(),
           chosen: dict[str, sympy.Expr] | None = None, open_products: bool = False) -> sympy.Expr:
    """``expr`` with every derived quantity that depends on ``target`` replaced by its formula.

    The result mentions ``target`` directly, so it can be substituted or solved
    for; quantities that do not depend on it, and those named in ``keep``, stay
    as names. ``chosen`` replaces some formulas (one regime of a Max); with
    ``open_products`` plain products are opened too, so that common factors
    cancel when solving (the parameter count in the critical batch size) while
    sums stay named and closed forms stay short.
    """
    chosen = chosen or {}
    subs = {}
    for s in expr.free_symbols:
        q = REGISTRY.by_symbol(s)
        if s == target or q.kind != "derived" or q.name in keep:
            continue
        formula = chosen.get(q.name, q.expr)
        if depends_on(q.expr, target) or (open_products and _product(formula)):
            subs[s] = inline(formula, target, keep, chosen, open_products)
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


def pins_through(name: str, pinned) -> frozenset[str]:
    """The pinned quantities that ``name``'s rewritten formula opened up (and so must keep as names)."""
    return frozenset(bypassed(name) & set(pinned)) if REGISTRY.get(name).kind == "derived" else frozenset()


def formula_for(name: str, pinned) -> sympy.Expr:
    """``name``'s formula given the pinned quantities: derived again where a closed form opened one up."""
    q = REGISTRY.get(name)
    keep = pins_through(name, pinned)
    return q.rederive(keep) if keep else q.expr
