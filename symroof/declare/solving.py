"""Solving the roofline for thresholds in closed form.

A threshold is declared by the equation it comes from and the input it is
solved for; sympy derives the closed form, so when a formula changes the
threshold follows. A ``Max``/``Min`` in the way is solved per regime: each
choice of branches gives a root and the condition under which it holds.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy

from ..errors import SolveError, UnitError
from .dimensions import dimension_of
from .quantity import REGISTRY, Kind, shown
from .rewrite import depends_on, inline


class NoRoot(SolveError):
    """The equation has no single positive root in some regime (a pin can leave it so)."""


@dataclass(frozen=True)
class Regime:
    """One closed-form root and the branch conditions it holds under."""

    root: sympy.Expr
    conditions: tuple[str, ...]  # e.g. ("step_time_flops <= step_time_params",)

    @property
    def text(self) -> str:
        return " and ".join(self.conditions) if self.conditions else "always"


def _sites(expr: sympy.Expr, target: sympy.Symbol, keep: frozenset[str],
           seen: dict | None = None) -> dict[str, list[sympy.Basic]]:
    """Declared formulas on the way to ``target`` whose Max/Min nodes involve it."""
    seen = {} if seen is None else seen
    for s in expr.free_symbols:
        q = REGISTRY.by_symbol(s)
        if q.kind != Kind.DERIVED or q.name in seen or q.name in keep or not depends_on(q.expr, target):
            continue
        nodes = [m for m in q.expr.atoms(sympy.Max, sympy.Min)
                 if any(depends_on(a, target) or a == target for a in m.args)]
        seen[q.name] = nodes
        _sites(q.expr, target, keep, seen)
    return seen


def _condition(node: sympy.Basic, pick: sympy.Expr) -> str:
    """``pick >= others`` for a Max (``<=`` for a Min), in quantity names."""
    op = ">=" if isinstance(node, sympy.Max) else "<="
    others = [sympy.sstr(shown(a)) for a in node.args if a != pick]
    return f"{sympy.sstr(shown(pick))} {op} {', '.join(others)}"


@REGISTRY.cached
def regimes(equation: sympy.Eq, unknown: sympy.Symbol, keep: frozenset[str] = frozenset()) -> tuple[Regime, ...]:
    """Every regime's positive root of ``equation`` for ``unknown``; names in ``keep`` are not opened."""
    if dimension_of(equation.lhs) != dimension_of(equation.rhs):
        raise UnitError(f"the two sides of {equation} have different units")
    sites = {**_sites(equation.lhs, unknown, keep), **_sites(equation.rhs, unknown, keep)}
    points = [(name, node) for name, nodes in sites.items() for node in nodes]
    out = []
    for picks in itertools.product(*(node.args for _, node in points)):
        chosen: dict[str, sympy.Expr] = {}
        conditions = []
        for (name, node), pick in zip(points, picks, strict=True):
            chosen[name] = chosen.get(name, REGISTRY.get(name).expr).xreplace({node: pick})
            conditions.append(_condition(node, pick))
        f = (inline(equation.lhs, unknown, keep, chosen, open_products=True)
             - inline(equation.rhs, unknown, keep, chosen, open_products=True))
        if f.has(sympy.ceiling, sympy.floor):
            raise SolveError(f"cannot solve {equation} for {unknown} through a ceiling or floor: "
                            "solve the unrounded quantity and round the result")
        roots = [r for r in sympy.solve(f, unknown) if r.is_positive is not False]
        if len(roots) != 1:
            where = f" when {' and '.join(conditions)}" if conditions else ""
            raise NoRoot(f"{sympy.sstr(shown(equation.lhs))} = {sympy.sstr(shown(equation.rhs))} has "
                         f"{'no' if not roots else len(roots)} positive solution{'' if len(roots) == 1 else 's'} "
                         f"for {unknown}{where}")
        out.append(Regime(sympy.factor(sympy.simplify(roots[0])), tuple(conditions)))
    return tuple(out)
