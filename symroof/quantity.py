"""Declared quantities: every input, constant and formula of symroof, declared once.

A quantity carries a stable snake_case name (also its Excel defined name), a
display symbol, a pint unit (the unit it is reported in), a one-line
description and a source. Formulas are sympy expressions over the symbols of
quantities declared before them, and are unit-checked when declared.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

import pint
import sympy

from .errors import InputError, UnitError
from .units import base_factor, parse_unit, ureg

KINDS = ("input", "derived", "constant")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class Select(sympy.Function):
    """The value a categorical input picks: ``Select(key, v_1, ..., v_n)``.

    ``v_i`` belongs to the i-th choice of the categorical quantity ``key``; it
    is never evaluated by sympy, only resolved once the choice is known.
    """

    @classmethod
    def eval(cls, *args):  # noqa: D102 - sympy hook: stay unevaluated
        return None

    @property
    def key(self) -> sympy.Symbol:
        return self.args[0]

    @property
    def options(self) -> tuple[sympy.Expr, ...]:
        return self.args[1:]

    def choose(self, choice: str) -> sympy.Expr:
        """The option for ``choice`` of the key's declared choices."""
        key = REGISTRY.by_symbol(self.key)
        return self.options[key.choices.index(choice)]

    def _latex(self, printer) -> str:
        key = REGISTRY.by_symbol(self.key)
        rows = [
            rf"{printer._print(v)} & \text{{if }} {key.display} = \text{{{c}}}"
            for c, v in zip(key.choices, self.options, strict=True)
        ]
        return r"\begin{cases}" + r" \\ ".join(rows) + r"\end{cases}"

    def _sympystr(self, printer) -> str:
        key = REGISTRY.by_symbol(self.key)
        pairs = ", ".join(f"{c}: {printer._print(v)}" for c, v in zip(key.choices, self.options, strict=True))
        return f"select({key.name}, {{{pairs}}})"


@dataclass(frozen=True, eq=False)
class Quantity:
    """One declared quantity; see the module docstring."""

    name: str
    symbol: sympy.Symbol
    display: str
    unit: pint.Unit
    description: str
    source: str
    group: str
    kind: str
    expr: sympy.Expr | None = None  # formula (derived) or default rule (input)
    choices: tuple[str, ...] | None = None  # categorical inputs only
    value: float | None = None  # constants: magnitude in ``unit``
    integer: bool = False
    at_most: float | None = None  # inputs: largest allowed value, in ``unit``
    regime: str | None = None  # where a solved threshold holds
    default_choice: str | None = None  # categorical inputs: the choice when nothing sets it
    derivation: sympy.Eq | None = None  # solved quantities: the equation solved
    unknown: sympy.Symbol | None = None  # solved quantities: the symbol solved for
    basis: tuple[sympy.Symbol, ...] | None = None  # what a solved/substituted formula was derived from
    rederive: Callable[[frozenset[str]], sympy.Expr] | None = None  # the formula again, keeping some names

    @property
    def categorical(self) -> bool:
        return self.choices is not None

    @property
    def has_rule(self) -> bool:
        """An input whose default is a rule over other quantities (``n_chips``), not a plain value."""
        return self.kind == "input" and self.expr is not None and any(d.kind != "constant"
                                                                       for d in self.dependencies)

    @property
    def factor(self) -> float:
        """Base units per one reporting unit (1 GB -> 1e9 byte)."""
        return base_factor(self.unit)

    @property
    def dependencies(self) -> list[Quantity]:
        """Quantities the formula (or default rule) refers to directly."""
        if self.expr is None:
            return []
        return sorted((REGISTRY.by_symbol(s) for s in self.expr.free_symbols), key=lambda q: q.name)

    def display_expr(self) -> sympy.Expr | None:
        """The formula with constants shown as numbers (unit carriers become 1)."""
        return None if self.expr is None else shown(self.expr)

    def formula_text(self) -> str | None:
        """The formula in snake_case names: ``kv_cache_bytes/(hbm_bandwidth*n_chips)``."""
        expr = self.display_expr()
        return None if expr is None else sympy.sstr(expr)

    def latex(self) -> str:
        """``symbol = formula`` in LaTeX, with the declared display symbols."""
        expr = self.display_expr()
        if expr is None:
            return self.display
        names = {q.symbol: q.display for q in REGISTRY}
        return f"{self.display} = {sympy.latex(expr, symbol_names=names)}"

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def __repr__(self) -> str:
        return f"<Quantity {self.name} [{self.unit}] {self.kind}>"


class Registry:
    """All declared quantities, in declaration order."""

    def __init__(self) -> None:
        self._by_name: dict[str, Quantity] = {}
        self._by_symbol: dict[sympy.Symbol, Quantity] = {}

    def add(self, q: Quantity) -> Quantity:
        if not NAME_RE.match(q.name):
            raise ValueError(f"quantity name {q.name!r} is not snake_case")
        if q.name in self._by_name:
            raise ValueError(f"quantity {q.name!r} is declared twice")
        self._by_name[q.name] = q
        self._by_symbol[q.symbol] = q
        return q

    def replace(self, name: str, **changes) -> Quantity:
        """Change fields of a declared quantity (a default rule that needs quantities declared after it)."""
        import dataclasses

        q = dataclasses.replace(self._by_name[name], **changes)
        self._by_name[name] = q
        self._by_symbol[q.symbol] = q
        return q

    def remove(self, name: str) -> None:
        """Forget a quantity (tests that plant mistakes clean up with this)."""
        q = self._by_name.pop(name)
        del self._by_symbol[q.symbol]

    def __iter__(self):
        return iter(list(self._by_name.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._by_name)

    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str) -> Quantity:
        """The quantity called ``name``, or an error that suggests close names."""
        try:
            return self._by_name[name]
        except KeyError:
            raise InputError(f"unknown quantity {name!r}{suggest(name, self._by_name)}") from None

    def by_symbol(self, symbol: sympy.Symbol) -> Quantity:
        try:
            return self._by_symbol[symbol]
        except KeyError:
            raise UnitError(f"symbol {symbol} is not a declared symroof quantity") from None


REGISTRY = Registry()


def shown(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` as people read it: constants as their numbers (2 FLOPs per multiply-add; unit carriers as 1)."""
    subs = {}
    for s in expr.free_symbols:
        q = REGISTRY.by_symbol(s)
        if q.kind == "constant":
            subs[s] = sympy.nsimplify(q.value * q.factor)
    return expr.xreplace(subs)


def suggest(name: str, known) -> str:
    """`` (did you mean 'x'?)`` for a mistyped name, or nothing."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def _symbol(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, positive=True)


class Group:
    """Declares the quantities of one section of the seed (a workbook sheet)."""

    def __init__(self, name: str, title: str) -> None:
        self.name = name
        self.title = title

    def _unit(self, unit: str) -> pint.Unit:
        return parse_unit(unit) if unit else ureg.dimensionless

    def input(
        self,
        name: str,
        display: str,
        unit: str,
        description: str,
        source: str,
        *,
        default: sympy.Expr | None = None,
        integer: bool = False,
        at_most: float | None = None,
    ) -> sympy.Symbol:
        """A numeric input; ``default`` is the rule used when nothing sets it."""
        q = Quantity(name, _symbol(name), display, self._unit(unit), description, source, self.name,
                     "input", expr=default, integer=integer, at_most=at_most)
        if default is not None:
            check_units(q)
        return REGISTRY.add(q).symbol

    def set_default(self, symbol: sympy.Symbol, default: sympy.Expr) -> None:
        """Give an input declared earlier its default rule, unit-checked now."""
        q = REGISTRY.by_symbol(symbol)
        if q.group != self.name or q.kind != "input" or q.expr is not None:
            raise ValueError(f"{q.name} is not an input of {self.name} without a default")
        check_units(REGISTRY.replace(q.name, expr=sympy.sympify(default)))

    def choice(self, name: str, display: str, choices: tuple[str, ...], description: str,
               source: str, *, default: str) -> sympy.Symbol:
        """A categorical input (a dtype): one of ``choices``, never a number."""
        q = Quantity(name, _symbol(name), display, ureg.dimensionless, description, source,
                     self.name, "input", choices=tuple(choices), default_choice=default)
        return REGISTRY.add(q).symbol

    def derived(self, name: str, display: str, unit: str, description: str, source: str,
                expr: sympy.Expr, *, regime: str | None = None, derivation: sympy.Eq | None = None,
                unknown: sympy.Symbol | None = None, basis: tuple[sympy.Symbol, ...] | None = None,
                rederive: Callable[[frozenset[str]], sympy.Expr] | None = None) -> sympy.Symbol:
        """A formula over declared quantities, unit-checked now.

        ``basis`` names what a rewritten formula (solved, or substituted with
        :func:`symroof.symbolic.at`) was derived from; ``rederive(keep)`` rebuilds
        it without opening the quantities named in ``keep`` (pinned ones).
        """
        if derivation is not None and basis is None:
            basis = tuple(sorted(derivation.free_symbols, key=str))
        q = Quantity(name, _symbol(name), display, self._unit(unit), description, source,
                     self.name, "derived", expr=sympy.sympify(expr), regime=regime, derivation=derivation,
                     unknown=unknown, basis=basis, rederive=rederive)
        check_units(q)
        return REGISTRY.add(q).symbol

    def constant(self, name: str, display: str, value: float, unit: str, description: str,
                 source: str) -> sympy.Symbol:
        """A fixed number with a unit (the 2 FLOPs of a multiply-add)."""
        q = Quantity(name, _symbol(name), display, self._unit(unit), description, source,
                     self.name, "constant", value=value)
        return REGISTRY.add(q).symbol


CONSTANTS = Group("constants", "Constants")


def one(unit: str) -> sympy.Symbol:
    """The constant 1 ``unit``: gives a count its unit and shows as 1 in formulas."""
    u = parse_unit(unit)
    name = "one_" + re.sub(r"[^a-z0-9]+", "_", f"{u:C}".lower().replace("/", " per ")).strip("_")
    if name in REGISTRY:
        return REGISTRY.get(name).symbol
    return CONSTANTS.constant(name, "1", 1, unit, f"One {u}: carries the unit of a count.",
                              "unit bookkeeping")


def check_units(q: Quantity) -> None:
    """Raise :class:`UnitError` unless ``q``'s formula has the dimensions of its unit."""
    from .dimensions import dimension_of, format_dimension

    try:
        have = dimension_of(q.expr)
    except UnitError as exc:
        raise UnitError(f"formula {q.name}: {exc}") from None
    want = q.unit.dimensionality
    if have != want:
        raise UnitError(
            f"formula {q.name} has units of {format_dimension(have)} "
            f"but is declared in {q.unit or 'dimensionless'} ({format_dimension(want)})"
        )
