"""Elasticities d ln y / d ln x, exact from the formulas, and the active branch of each Max.

"What does 10% more HBM bandwidth buy?" is the elasticity of the quantity with
respect to ``hbm_bandwidth`` times 10%: sympy differentiates the formula opened
down to its inputs (through :func:`symroof.lower.opened`, so a pinned quantity
is an input and closed forms are derived again around it), and the answer is
exact at the operating point, not a re-run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy
import sympy

from .core.errors import InputError
from .declare import REGISTRY, Kind, formula
from .derive import declared as _declared  # noqa: F401  (declares every quantity, with cached closed forms)
from .derive.lower import numeric, opened, resolve
from .evaluation import Evaluation
from .printing.numpy import codegen


def _opened(name: str, ev: Evaluation) -> sympy.Expr:
    """``name``'s formula over inputs, constants and pinned quantities."""
    q = REGISTRY.get(name)
    if q.kind != Kind.DERIVED or name in ev.pins:
        raise InputError(f"{name} is an input here; sensitivities are of derived quantities")
    choices = {n: v for n, v in ev.base.items() if ev.table.specs[n].categorical}
    return resolve(opened(q, ev.pins, ev.mode), choices)  # dtypes and the model's structure, as evaluated


@REGISTRY.cached
def _elasticity(y: sympy.Expr, x: sympy.Symbol) -> sympy.Expr:
    d = sympy.diff(y, x)
    # ceiling and floor are flat between their steps: their derivative is 0 there.
    d = d.replace(lambda e: isinstance(e, sympy.Derivative | sympy.Subs), lambda e: sympy.Integer(0))
    return d * x / y


#: Layout degrees: whole numbers the model's checks hold to dividing heads, chips and experts, so a small change
#: in one is no layout at all (n_chips, the chapter's own variable, stays: every value of it is a slice).
LAYOUT_DEGREES = frozenset({"tensor_parallel", "pipeline_parallel", "expert_parallel", "attention_data_parallel",
                            "data_parallel"})


def _wrt(y: sympy.Expr) -> tuple[sympy.Symbol, ...]:
    return tuple(s for s in sorted(y.free_symbols, key=lambda s: s.name)
                 if not REGISTRY.by_symbol(s).categorical and s.name not in LAYOUT_DEGREES)


@dataclass(frozen=True)
class Elasticity:
    wrt: str
    value: float
    formula: sympy.Expr


def elasticity_formulas(ev: Evaluation, name: str) -> list[tuple[str, sympy.Expr]]:
    """(input, elasticity formula in base units) of ``name`` for every numeric input it depends on."""
    y = _opened(name, ev)
    return [(x.name, _elasticity(y, x)) for x in _wrt(y)]


def elasticities(ev: Evaluation, name: str) -> list[Elasticity]:
    """Elasticities of ``name`` with respect to every numeric input it depends on, largest first."""
    y = _opened(name, ev)
    wrt = _wrt(y)
    formulas = [_elasticity(y, x) for x in wrt]
    func, args = _compiled(y, wrt)
    with numpy.errstate(divide="ignore", invalid="ignore"):
        values = func(*(numpy.float64(ev.base[a.name]) if not REGISTRY.by_symbol(a).categorical
                        else ev.base[a.name] for a in args))
    out = [Elasticity(x.name, float(v), f) for x, v, f in zip(wrt, values, formulas, strict=True)]
    out.sort(key=lambda e: -abs(e.value))
    return out


@REGISTRY.cached
def _compiled(y: sympy.Expr, wrt: tuple[sympy.Symbol, ...]):
    """One numpy function returning every elasticity of ``y`` (shared subexpressions computed once)."""
    args = sorted(y.free_symbols, key=lambda s: s.name)
    return codegen(args, [_elasticity(y, x) for x in wrt], "_elasticities"), args


@dataclass(frozen=True)
class Bound:
    """The branches of one Max/Min in a formula, with values in the formula's unit."""

    quantity: str
    kind: str  # "max" or "min"
    branches: tuple[tuple[str, float], ...]
    active: str
    unit: str


def _value(expr: sympy.Expr, ev: Evaluation) -> float:
    """``expr`` (over declared symbols) at the evaluation's operating point, in double precision."""
    expr = numeric(expr)
    point = {s: sympy.Float(float(ev.base[s.name]), 17) for s in expr.free_symbols}
    return float(expr.xreplace(point).evalf(17))


def active_bounds(ev: Evaluation, name: str) -> list[Bound]:
    """Which branch of each Max/Min on the way to ``name`` is active at the operating point."""
    seen: set[str] = set()
    out: list[Bound] = []
    todo = [REGISTRY.get(name)]
    while todo:
        q = todo.pop(0)
        if q.name in seen or q.kind != Kind.DERIVED or q.name in ev.pins:
            continue
        seen.add(q.name)
        expr = formula(q, ev.pins, ev.mode)
        for node in sorted(expr.atoms(sympy.Max, sympy.Min), key=str):
            if any(s.name not in ev.base for s in node.free_symbols):
                continue
            branches = tuple((sympy.sstr(a), _value(a, ev) / q.factor) for a in node.args)
            if len({v for _, v in branches}) == 1:
                continue  # every branch equal here (no sliding window shorter than the context): nothing bounds
            pick = max if isinstance(node, sympy.Max) else min
            active = pick(branches, key=lambda b: b[1])[0]
            out.append(Bound(q.name, "max" if isinstance(node, sympy.Max) else "min", branches, active,
                             str(q.unit)))
        todo.extend(REGISTRY.by_symbol(s) for s in sorted(expr.free_symbols, key=str))
    return out
