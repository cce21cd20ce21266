"""Rewriting formulas through their definitions: opening derived quantities up to reach an input.

Used to solve for an input (the root must mention it directly) and to declare
"this formula at that value" (step time at the largest batch).
"""

from __future__ import annotations

import sympy

from .functions import Select
from .quantity import REGISTRY, Kind


@REGISTRY.cached
def depends_on(expr: sympy.Expr, target: sympy.Symbol) -> bool:
    """Whether ``expr`` depends on ``target`` through any chain of derived formulas."""
    for s in expr.free_symbols:
        if s == target:
            return True
        q = REGISTRY.by_symbol(s)
        if q.kind == Kind.DERIVED and depends_on(q.expr, target):
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
        if s == target or q.kind != Kind.DERIVED or q.name in keep:
            continue
        formula = chosen.get(q.name, q.expr)
        if depends_on(q.expr, target) or (open_products and _product(formula)):
            subs[s] = inline(formula, target, keep, chosen, open_products)
    return expr.xreplace(subs)


def at(expr: sympy.Expr, where: dict[sympy.Symbol, sympy.Expr], keep: frozenset[str] = frozenset()) -> sympy.Expr:
    """``expr`` with each input of ``where`` replaced by its value (step time at the largest batch)."""
    for target in where:
        expr = inline(expr, target, keep)
    return expr.xreplace(where)


def structural_on_path(equation: sympy.Eq, target: sympy.Symbol) -> set[sympy.Symbol]:
    """Keys of structural choices (dense or MoE) whose ``Select`` lies on the way from ``equation`` to ``target``.

    Such an equation has a different shape per choice, so it is solved once per choice.
    """
    found: set[sympy.Symbol] = set()
    seen: set[str] = set()
    todo = list(equation.free_symbols)
    while todo:
        q = REGISTRY.by_symbol(todo.pop())
        if q.kind != Kind.DERIVED or q.name in seen or not depends_on(q.expr, target):
            continue
        seen.add(q.name)
        for sel in q.expr.atoms(Select):
            if REGISTRY.by_symbol(sel.key).structural and any(depends_on(o, target) for o in sel.options):
                found.add(sel.key)
        todo.extend(q.expr.free_symbols)
    return found
