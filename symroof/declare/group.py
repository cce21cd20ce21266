"""Declaring quantities: one ``Group`` per section of the seed (a workbook sheet).

Every way of declaring a quantity is a method of its group: an input, a
categorical choice, a constant, a formula, a threshold solved from an
equation, and a formula evaluated at another quantity's value. Each formula is
unit-checked when declared.
"""

from __future__ import annotations

import re

import sympy

from ..core.errors import SolveError
from ..core.units import parse_unit, ureg
from . import closed
from .dimensions import check_units
from .functions import Select, make_select  # noqa: F401  (Select re-exported)
from .quantity import REGISTRY, Kind, Quantity
from .rewrite import at, structural_on_path
from .solving import regimes


def _symbol(name: str, nonnegative: bool = False) -> sympy.Symbol:
    # positive symbols let sympy simplify Max(x, 0) to x; a quantity that may be 0 is only nonnegative,
    # so Eq(x, 0) and x < 1 stay conditions instead of folding to False
    return sympy.Symbol(name, nonnegative=True) if nonnegative else sympy.Symbol(name, positive=True)


def _unit(unit: str):
    return parse_unit(unit) if unit else ureg.dimensionless


class Group:
    """Declares the quantities of one section of the seed.

    ``requires`` names yes/no quantities the section's results need to mean
    anything (step times, throughput and cost need the point to fit in HBM).
    """

    def __init__(self, name: str, title: str, *, requires: tuple[str, ...] = ()) -> None:
        self.name = name
        self.title = title
        self.requires = tuple(requires)

    def _add(self, q: Quantity) -> sympy.Symbol:
        if q.expr is not None:
            check_units(q)
        return REGISTRY.add(q).symbol

    def input(self, name: str, display: str, unit: str, description: str, source: str, *,
              default: sympy.Expr | None = None, integer: bool = False, at_most: float | None = None,
              plausible: tuple[float, float] | None = None, label: str | None = None,
              neutral: float | None = None, nonnegative: bool = False) -> sympy.Symbol:
        """A numeric input; ``default`` is the rule (or number) used when nothing sets it.

        ``neutral`` declares an estimate factor: the value (1 for an efficiency,
        0 for an overhead) at which the formulas give the chapter's bound.
        """
        return self._add(Quantity(
            name, _symbol(name, nonnegative), display, _unit(unit), description, source, self.name, Kind.INPUT,
            expr=None if default is None else sympy.sympify(default), integer=integer, at_most=at_most,
            plausible=plausible, label=label, neutral=neutral, nonnegative=nonnegative))

    def set_default(self, symbol: sympy.Symbol, default: sympy.Expr) -> None:
        """Give an input declared earlier its default rule (one that needs quantities declared after it)."""
        q = REGISTRY.by_symbol(symbol)
        if q.kind != Kind.INPUT or q.expr is not None:
            raise ValueError(f"{q.name} is not an input without a default")
        check_units(REGISTRY.replace(q.name, expr=sympy.sympify(default)))

    def choice(self, name: str, display: str, choices: tuple[str, ...], description: str, source: str, *,
               default: str, label: str | None = None, choice_list: str | None = None,
               structural: bool = False) -> sympy.Symbol:
        """A categorical input (a dtype): one of ``choices``, never a number.

        ``choice_list`` names the workbook drop-down list it offers (inputs with
        the same choices may share one); by default ``<name>_choices``. A
        ``structural`` choice is part of a model's architecture (dense or MoE):
        thresholds are solved once per choice, and a workbook fixes it at export.
        """
        if default not in choices:
            raise ValueError(f"{name}: default {default!r} is not one of its choices")
        return self._add(Quantity(name, _symbol(name), display, ureg.dimensionless, description, source,
                                  self.name, Kind.INPUT, choices=tuple(choices), default_choice=default,
                                  label=label, choice_list=choice_list or f"{name}_choices", structural=structural))

    def constant(self, name: str, display: str, value: float, unit: str, description: str,
                 source: str) -> sympy.Symbol:
        """A fixed number with a unit (the 2 FLOPs of a multiply-add)."""
        return self._add(Quantity(name, _symbol(name), display, _unit(unit), description, source, self.name,
                                  Kind.CONSTANT, value=value))

    def derived(self, name: str, display: str, unit: str, description: str, source: str, expr: sympy.Expr, *,
                label: str | None = None, boolean: bool = False, regime: str | None = None,
                requires: tuple[str, ...] | None = None, says: tuple[str, str] | None = None,
                on_false: str | None = None, **how) -> sympy.Symbol:
        """A formula over declared quantities.

        A yes/no quantity (``boolean``) may say in words what it means, true and
        false: ``says=("Fits: needs {total_memory_bytes:,.0f} GB.", "Does not fit: ...")``.
        A check of the inputs says what to do when it is false: ``on_false="refuse"``
        (the inputs are an error, its false sentence the message) or ``"warn"``.
        """
        if says is not None and not boolean:
            raise ValueError(f"{name}: only a yes/no quantity says something")
        if on_false not in (None, "refuse", "warn") or (on_false and says is None):
            raise ValueError(f"{name}: on_false is 'refuse' or 'warn', with a sentence to say")
        return self._add(Quantity(
            name, _symbol(name), display, _unit(unit), description, source, self.name, Kind.DERIVED,
            expr=sympy.sympify(expr), label=label, boolean=boolean, regime=regime,
            requires=self.requires if requires is None else tuple(requires), says=says, on_false=on_false, **how))

    def solved(self, name: str, display: str, unit: str, description: str, source: str, equation: sympy.Eq,
               unknown: sympy.Symbol, *, regime: str, combine: str = "only", post=None,
               label: str | None = None, per: sympy.Symbol | None = None,
               otherwise: dict[str, sympy.Expr] | None = None, largest: bool = False) -> sympy.Symbol:
        """A threshold: the root of ``equation`` for ``unknown``, derived by sympy in closed form.

        ``combine="only"`` takes the single regime there is; ``"min"`` takes the
        smallest regime root, which is the exact root when the equation's left
        side minus its right side increases with ``unknown`` (each Max is at
        least each of its branches). ``post`` rounds the root, if needed. With
        ``per`` (a structural choice, dense or MoE), the equation is solved once
        per choice and the threshold selects the root of the model's choice;
        ``otherwise`` gives the value for choices where the equation does not
        apply (a dense model has no experts to saturate). ``combine="max"``
        takes the largest regime root: right when the unknown's side is a Min
        of increasing branches (KV that stops growing at a sliding window).
        ``largest`` takes the largest root within a regime (a quadratic with
        one negative root, such as a ring's latency steps growing with n).
        """
        if combine not in ("only", "min", "max"):
            raise ValueError(f"unknown combine {combine!r}")

        def root_of(keep: frozenset[str], choices: dict[str, str]) -> sympy.Expr:
            found = regimes(equation, unknown, keep, tuple(sorted(choices.items())), largest)
            if combine == "only" and len(found) != 1:
                raise SolveError(f"{name}: {len(found)} regimes; choose how to combine them")
            if combine == "only":
                root = found[0].root
            else:
                roots = list(dict.fromkeys(r.root for r in found))
                root = roots[0] if len(roots) == 1 else (sympy.Min if combine == "min" else sympy.Max)(*roots)
            return post(root) if post is not None else root

        if per is None:  # a structural choice on the way to the unknown (dense or MoE) is solved per choice
            found = structural_on_path(equation, unknown)
            if len(found) > 1:
                raise SolveError(f"{name}: several structural choices on the way to {unknown}; give per=")
            per = next(iter(found), None)

        def derive(keep: frozenset[str] = frozenset()) -> sympy.Expr:
            if per is None:
                return root_of(keep, {})
            key = REGISTRY.by_symbol(per)
            given = otherwise or {}
            return make_select(per, {c: sympy.sympify(given[c]) if c in given else root_of(keep, {key.name: c})
                                     for c in key.choices})

        return self.derived(name, display, unit, description, source, closed.known(name) or derive(),
                            label=label, regime=regime,
                            derivation=equation, unknown=unknown, rederive=derive,
                            basis=tuple(sorted(equation.free_symbols, key=str)),
                            per=None if per is None else per.name, unsolved=tuple(otherwise or ()),
                            largest=largest)

    def at(self, name: str, display: str, unit: str, description: str, source: str, of: sympy.Symbol,
           where: dict[sympy.Symbol, sympy.Expr], *, label: str | None = None,
           requires: tuple[str, ...] | None = None) -> sympy.Symbol:
        """``of`` evaluated with each input of ``where`` at the given value (step time at the largest batch)."""
        return self.derived(name, display, unit, description, source, at(of, where), label=label,
                            requires=requires,
                            basis=(of, *sorted(set().union(*(sympy.sympify(v).free_symbols
                                                             for v in where.values())), key=str)),
                            rederive=lambda keep: at(of, where, keep))

    def select(self, key: sympy.Symbol, options: dict[str, sympy.Expr]) -> Select:
        """The value ``key``'s choice picks, one option per declared choice (by name, never by position)."""
        q = REGISTRY.by_symbol(key)
        if not q.categorical:
            raise ValueError(f"{q.name} is not a categorical input")
        if set(options) != set(q.choices):
            raise ValueError(f"select on {q.name}: options {sorted(options)} do not match choices {list(q.choices)}")
        return make_select(key, {c: options[c] for c in q.choices})


CONSTANTS = Group("constants", "Constants")


def one(unit: str) -> sympy.Symbol:
    """The constant 1 ``unit``: gives a count its unit and shows as 1 in formulas."""
    u = parse_unit(unit)
    name = "one_" + re.sub(r"[^a-z0-9]+", "_", f"{u:C}".lower().replace("/", " per ")).strip("_")
    if name in REGISTRY:
        return REGISTRY.get(name).symbol
    return CONSTANTS.constant(name, "1", 1, unit, f"One {u}: carries the unit of a count.", "unit bookkeeping")
