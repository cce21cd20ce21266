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

from ..core.errors import SolveError, UnitError
from .dimensions import dimension_of
from .functions import Select
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


def _choose(expr: sympy.Expr, choices: dict[str, str]) -> sympy.Expr:
    """``expr`` with each ``Select`` on a key in ``choices`` replaced by that choice's option."""
    if not choices:
        return expr
    return expr.replace(lambda e: isinstance(e, Select) and e.key.name in choices,
                        lambda e: e.choose(choices[e.key.name]))


def _solve(f: sympy.Expr, unknown: sympy.Symbol) -> list[sympy.Expr]:
    """``sympy.solve(f, unknown)``, with every part of ``f`` free of the unknown first named by a positive
    placeholder: the solver then sees ``a B + c - d q^B`` instead of pages of model parameters (seconds, not
    minutes, for the MoE roots), and the placeholders are put back in the roots."""
    names: dict[sympy.Expr, sympy.Symbol] = {}

    def abstract(e: sympy.Expr) -> sympy.Expr:
        if not e.has(unknown):
            if e.is_Number:
                return e
            if e not in names:
                names[e] = sympy.Symbol(f"_c{len(names)}", positive=e.is_positive is True or None,
                                        negative=e.is_negative is True or None, real=True)
            return names[e]
        if not e.args:
            return e
        return e.func(*(abstract(a) for a in e.args))

    g = abstract(f)
    if g.has(sympy.Pow) and any(p.exp.has(unknown) for p in g.atoms(sympy.Pow)):
        # a B q^B equation: sympy's LambertW solver wants one coefficient per power of the unknown, so the
        # terms are grouped by their part in the unknown and each group's coefficient named
        groups: dict[sympy.Expr, list[sympy.Expr]] = {}
        for term in sympy.Add.make_args(sympy.expand_mul(g)):
            coeff, dep = term.as_independent(unknown, as_Add=False)
            groups.setdefault(dep, []).append(coeff)
        g = sympy.Add(*(abstract(sympy.Add(*coeffs)) * dep for dep, coeffs in groups.items()))
    back = {v: k for k, v in names.items()}

    def put_back(e: sympy.Expr) -> sympy.Expr:
        while e.has(*back):  # a group's coefficient names placeholders in turn
            e = e.xreplace(back)
        return e

    # a root is dropped when it cannot be positive, judged on the placeholders: put back, sympy's assumptions
    # can misjudge a sum of Piecewise terms (one that is 0 on some branch) as never positive
    roots = [r for r in _polynomial_roots(g, unknown) or sympy.solve(g, unknown, simplify=False, check=False)
             if r.is_positive is not False]
    out = []
    for r in roots:
        full = put_back(r)
        try:
            full = sympy.factor(sympy.simplify(full))
        except RecursionError:  # sympy's simplify can recurse without end through the collectives' branches:
            # simplify on the placeholders instead (all positive or real, so a LambertW root's logs combine)
            full = put_back(sympy.logcombine(sympy.simplify(r), force=True))
        out.append(_one_power(full))
    return out


def _one_power(root: sympy.Expr) -> sympy.Expr:
    """``root`` with the powers of one base in each product merged into one power: apart, each of q^a / q^b can
    underflow to 0 when a and b are large (an MoE root, q = 1 - k/E), where q^(a - b) is an ordinary number."""
    return root.replace(lambda e: e.is_Mul and sum(isinstance(a, sympy.Pow) for a in e.args) > 1,
                        lambda e: sympy.powsimp(e, combine="exp", force=True))


def _polynomial_roots(g: sympy.Expr, unknown: sympy.Symbol) -> list[sympy.Expr] | None:
    """The roots of ``g`` = 0 when its numerator is a polynomial of degree 1 or 2 in ``unknown``, written out.

    sympy's solver simplifies a quadratic's roots through multivariate factorisation, which can take minutes
    for some orderings of the placeholders; the textbook formula needs none of it. None for anything else.
    """
    numerator, _ = sympy.fraction(sympy.together(g))
    try:
        poly = sympy.Poly(sympy.expand(numerator), unknown)
    except sympy.PolynomialError:
        return None
    if poly.degree() == 1:
        c1, c0 = poly.all_coeffs()
        return [-c0 / c1]
    if poly.degree() == 2:
        a, b, c = poly.all_coeffs()
        root = sympy.sqrt(b**2 - 4 * a * c)
        return [(-b + root) / (2 * a), (-b - root) / (2 * a)]
    return None


@REGISTRY.cached
def regimes(equation: sympy.Eq, unknown: sympy.Symbol, keep: frozenset[str] = frozenset(),
            choices: tuple[tuple[str, str], ...] = (), largest: bool = False) -> tuple[Regime, ...]:
    """Every regime's positive root of ``equation`` for ``unknown``; names in ``keep`` are not opened.

    ``choices`` fixes structural choices (``(("mlp", "moe"),)``) before solving. With ``largest``, a
    regime with several roots (a quadratic whose other root is negative, which sympy cannot always tell
    from the symbols) takes the largest of them.
    """
    if dimension_of(equation.lhs) != dimension_of(equation.rhs):
        raise UnitError(f"the two sides of {equation} have different units")
    # every formula as the structural choices make it (a dense model's step loads param_bytes)
    structural = {q.name: _choose(q.expr, dict(choices)) for q in REGISTRY
                  if choices and q.kind == Kind.DERIVED and q.expr.has(Select)}
    sites = {**_sites(equation.lhs, unknown, keep), **_sites(equation.rhs, unknown, keep)}
    points = [(name, node) for name, nodes in sites.items() for node in nodes]
    out = []
    for picks in itertools.product(*(node.args for _, node in points)):
        chosen: dict[str, sympy.Expr] = dict(structural)
        conditions = []
        for (name, node), pick in zip(points, picks, strict=True):
            chosen[name] = chosen.get(name, REGISTRY.get(name).expr).xreplace({node: pick})
            conditions.append(_condition(node, pick))
        f = _choose(inline(equation.lhs, unknown, keep, chosen, open_products=True)
                    - inline(equation.rhs, unknown, keep, chosen, open_products=True), dict(choices))
        if any(r.has(unknown) for r in f.atoms(sympy.ceiling, sympy.floor)):
            raise SolveError(f"cannot solve {equation} for {unknown} through a ceiling or floor: "
                            "solve the unrounded quantity and round the result")
        roots = _solve(f, unknown)
        if largest and len(roots) > 1:
            roots = [sympy.Max(*roots)]
        if len(roots) != 1:
            where = f" when {' and '.join(conditions)}" if conditions else ""
            raise NoRoot(f"{sympy.sstr(shown(equation.lhs))} = {sympy.sstr(shown(equation.rhs))} has "
                         f"{'no' if not roots else len(roots)} positive solution{'' if len(roots) == 1 else 's'} "
                         f"for {unknown}{where}")
        out.append(Regime(roots[0], tuple(conditions)))
    return tuple(out)
