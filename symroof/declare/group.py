"""Declaring quantities: one ``Group`` per section of the seed (a workbook sheet).

Every way of declaring a quantity is a method of its group: an input, a
categorical choice, a constant, a formula, a threshold solved from an
equation, and a formula evaluated at another quantity's value. Each formula is
unit-checked when declared.
"""

from __future__ import annotations

import re

import sympy

from ..errors import SolveError
from ..units import parse_unit, ureg
from .dimensions import check_units
from .functions import Select, make_select
from .quantity import REGISTRY, Kind, Quantity
from .rewrite import at
from .solving import regimes


def _symbol(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, positive=True)


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
              neutral: float | None = None) -> sympy.Symbol:
        """A numeric input; ``default`` is the rule (or number) used when nothing sets it.

        ``neutral`` declares an estimate factor: the value (1 for an efficiency,
        0 for an overhead) at which the formulas give the chapter's bound.
        """
        return self._add(Quantity(
            name, _symbol(name), display, _unit(unit), description, source, self.name, Kind.INPUT,
            expr=None if default is None else sympy.sympify(default), integer=integer, at_most=at_most,
            plausible=plausible, label=label, neutral=neutral))

    def set_default(self, symbol: sympy.Symbol, default: sympy.Expr) -> None:
        """Give an input declared earlier its default rule (one that needs quantities declared after it)."""
        q = REGISTRY.by_symbol(symbol)
        if q.kind != Kind.INPUT or q.expr is not None:
            raise ValueError(f"{q.name} is not an input without a default")
        check_units(REGISTRY.replace(q.name, expr=sympy.sympify(default)))

    def choice(self, name: str, display: str, choices: tuple[str, ...], description: str, source: str, *,
               default: str, label: str | None = None, choice_list: str | None = None) -> sympy.Symbol:
        """A categorical input (a dtype): one of ``choices``, never a number.

        ``choice_list`` names the workbook drop-down list it offers (inputs with
        the same choices may share one); by default ``<name>_choices``.
        """
        if default not in choices:
            raise ValueError(f"{name}: default {default!r} is not one of its choices")
        return self._add(Quantity(name, _symbol(name), display, ureg.dimensionless, description, source,
                                  self.name, Kind.INPUT, choices=tuple(choices), default_choice=default,
                                  label=label, choice_list=choice_list or f"{name}_choices"))

    def constant(self, name: str, display: str, value: float, unit: str, description: str,
                 source: str) -> sympy.Symbol:
        """A fixed number with a unit (the 2 FLOPs of a multiply-add)."""
        return self._add(Quantity(name, _symbol(name), display, _unit(unit), description, source, self.name,
                                  Kind.CONSTANT, value=value))

    def derived(self, name: str, display: str, unit: str, description: str, source: str, expr: sympy.Expr, *,
                label: str | None = None, boolean: bool = False, regime: str | None = None,
                requires: tuple[str, ...] | None = None, says: tuple[str, str] | None = None,
                **how) -> sympy.Symbol:
        """A formula over declared quantities.

        A yes/no quantity (``boolean``) may say in words what it means, true and
        false: ``says=("Fits: needs {total_memory_bytes:,.0f} GB.", "Does not fit: ...")``.
        """
        if says is not None and not boolean:
            raise ValueError(f"{name}: only a yes/no quantity says something")
        return self._add(Quantity(
            name, _symbol(name), display, _unit(unit), description, source, self.name, Kind.DERIVED,
            expr=sympy.sympify(expr), label=label, boolean=boolean, regime=regime,
            requires=self.requires if requires is None else tuple(requires), says=says, **how))

    def solved(self, name: str, display: str, unit: str, description: str, source: str, equation: sympy.Eq,
               unknown: sympy.Symbol, *, regime: str, combine: str = "only", post=None,
               label: str | None = None) -> sympy.Symbol:
        """A threshold: the root of ``equation`` for ``unknown``, derived by sympy in closed form.

        ``combine="only"`` takes the single regime there is; ``"min"`` takes the
        smallest regime root, which is the exact root when the equation's left
        side minus its right side increases with ``unknown`` (each Max is at
        least each of its branches). ``post`` rounds the root, if needed.
        """
        if combine not in ("only", "min"):
            raise ValueError(f"unknown combine {combine!r}")

        def derive(keep: frozenset[str] = frozenset()) -> sympy.Expr:
            found = regimes(equation, unknown, keep)
            if combine == "only" and len(found) != 1:
                raise SolveError(f"{name}: {len(found)} regimes; choose how to combine them")
            root = found[0].root if combine == "only" else sympy.Min(*(r.root for r in found))
            return post(root) if post is not None else root

        return self.derived(name, display, unit, description, source, derive(), label=label, regime=regime,
                            derivation=equation, unknown=unknown, rederive=derive,
                            basis=tuple(sorted(equation.free_symbols, key=str)))

    def at(self, name: str, display: str, unit: str, description: str, source: str, of: sympy.Symbol,
           where: dict[sympy.Symbol, sympy.Expr], *, label: str | None = None,
           requires: tuple[str, ...] | None = None) -> sympy.Symbol:
        """``of`` evaluated with each input of ``where`` at the given value (step time at the largest batch)."""
        return self.derived(name, display, unit, description, source, at(of, where), label=label,
                            requires=requires,
                            basis=(of, *where.values()), rederive=lambda keep: at(of, where, keep))

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
