"""Declared quantities and the registry that holds them.

A quantity carries a stable snake_case name (also its Excel defined name), a
display symbol, a pint unit (the unit it is reported in), a one-line
description, a short label for planners' pages, and a source. Formulas are
sympy expressions over the symbols of quantities declared before them.

This module also answers the questions every consumer of a formula asks:
what a formula is given the pinned quantities and the mode (``formula``),
and how it reads (``text``, ``latex``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

import pint
import sympy

from ..core.errors import InputError, SymroofError, suggest
from ..core.kinds import Kind, Origin  # noqa: F401  (Origin re-exported)
from ..core.units import base_factor

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
BOUND, ESTIMATE = "bound", "estimate"
MODES = (BOUND, ESTIMATE)


@dataclass(frozen=True, eq=False)
class Quantity:
    """One declared quantity; see the module docstring. Hashes by identity."""

    name: str
    symbol: sympy.Symbol
    display: str
    unit: pint.Unit
    description: str
    source: str
    group: str
    kind: Kind
    expr: sympy.Expr | None = None  # formula (derived) or default rule (input)
    choices: tuple[str, ...] | None = None  # categorical inputs only
    value: float | None = None  # constants: magnitude in ``unit``
    integer: bool = False
    at_most: float | None = None  # inputs: largest allowed value, in ``unit``
    regime: str | None = None  # where a solved threshold holds
    default_choice: str | None = None  # categorical inputs: the choice when nothing sets it
    derivation: sympy.Eq | None = None  # solved quantities: the equation solved
    unknown: sympy.Symbol | None = None  # solved quantities: the symbol solved for
    basis: tuple[sympy.Symbol, ...] | None = None  # what a solved or substituted formula was derived from
    rederive: Callable[[frozenset[str]], sympy.Expr] | None = None  # the formula again, keeping pinned names
    label: str | None = None  # a short plain-English label ("Cost per million output tokens")
    boolean: bool = False  # a yes/no quantity (1 or 0; TRUE or FALSE in a workbook)
    neutral: float | None = None  # estimate factors: the value that gives the chapter's bound
    plausible: tuple[float, float] | None = None  # inputs: what any real chip or model lies within (unit)
    requires: tuple[str, ...] = ()  # yes/no quantities that must hold for this result to mean anything
    says: tuple[str, str] | None = None  # yes/no quantities: the sentence when true, when false ({name} values)
    on_false: str | None = None  # yes/no checks of the inputs: "refuse" (an input error) or "warn" when false
    choice_list: str | None = None  # categorical inputs: the name of a workbook's drop-down list of choices
    nonnegative: bool = False  # inputs that may be zero (shared experts, dense layers); others must be positive
    structural: bool = False  # categorical model inputs (attention kind, dense or MoE): fixed by the model
    per: str | None = None  # solved thresholds: the structural choice they are solved once for each value of
    unsolved: tuple[str, ...] = ()  # ... and the choices whose value is given, not solved (a dense model's 1)
    largest: bool = False  # solved thresholds: a regime with several roots takes the largest

    @property
    def categorical(self) -> bool:
        return self.choices is not None

    @property
    def has_rule(self) -> bool:
        """An input whose default is a rule over other quantities (``n_chips``), not a plain value."""
        return self.kind == Kind.INPUT and self.expr is not None and any(
            d.kind != Kind.CONSTANT for d in self.dependencies)

    @property
    def factor(self) -> float:
        """Base units per one reporting unit (1 GB -> 1e9 byte)."""
        return base_factor(self.unit)

    @property
    def title(self) -> str:
        """The label, or the description without its full stop."""
        return self.label or self.description.rstrip(".")

    @property
    def dependencies(self) -> list[Quantity]:
        """Quantities the formula (or default rule) refers to directly."""
        if self.expr is None:
            return []
        return sorted((REGISTRY.by_symbol(s) for s in self.expr.free_symbols), key=lambda q: q.name)

    def formula_text(self, pins: Iterable[str] = (), mode: str = BOUND) -> str | None:
        """The formula in snake_case names: ``kv_cache_bytes/(hbm_bandwidth*n_chips)``."""
        return text(self, frozenset(pins), mode)

    def display_expr(self, pins: Iterable[str] = (), mode: str = BOUND) -> sympy.Expr | None:
        """The formula as people read it (constants as numbers, unit carriers as 1)."""
        expr = formula(self, frozenset(pins), mode)
        return None if expr is None else shown(expr)

    def latex(self, pins: Iterable[str] = (), mode: str = BOUND) -> str:
        """``symbol = formula`` in LaTeX, with the declared display symbols."""
        return latex(self, frozenset(pins), mode)

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def __repr__(self) -> str:
        return f"<Quantity {self.name} [{self.unit}] {self.kind}>"


class Registry:
    """All declared quantities, in declaration order.

    Every change (add, replace, remove) clears the caches registered with
    :meth:`cached`, so nothing derived from a replaced formula survives it.
    """

    def __init__(self) -> None:
        self._by_name: dict[str, Quantity] = {}
        self._by_symbol: dict[sympy.Symbol, Quantity] = {}
        self._caches: list = []
        self.generation = 0

    def cached(self, func):
        """``functools.cache``, cleared whenever a quantity is added, replaced or removed."""
        wrapped = cache(func)
        self._caches.append(wrapped)
        return wrapped

    def _changed(self) -> None:
        self.generation += 1
        for c in self._caches:
            c.cache_clear()

    def add(self, q: Quantity) -> Quantity:
        if not NAME_RE.match(q.name):
            raise ValueError(f"quantity name {q.name!r} is not snake_case")
        if q.name in self._by_name:
            raise ValueError(f"quantity {q.name!r} is declared twice")
        self._by_name[q.name] = q
        self._by_symbol[q.symbol] = q
        self._changed()
        return q

    def replace(self, name: str, **changes) -> Quantity:
        """Change fields of a declared quantity (a default rule that needs quantities declared after it)."""
        q = dataclasses.replace(self._by_name[name], **changes)
        self._by_name[name] = q
        self._by_symbol[q.symbol] = q
        self._changed()
        return q

    def remove(self, name: str) -> None:
        """Forget a quantity (tests that plant mistakes clean up with this)."""
        q = self._by_name.pop(name)
        del self._by_symbol[q.symbol]
        self._changed()

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

    def symbols(self):
        """Every declared symbol (a view)."""
        return self._by_symbol.keys()

    def by_symbol(self, symbol: sympy.Symbol) -> Quantity:
        try:
            return self._by_symbol[symbol]
        except KeyError:
            raise SymroofError(f"symbol {symbol} is not a declared symroof quantity") from None


REGISTRY = Registry()


# --- the formula given pins and mode -------------------------------------------------------------------------

@REGISTRY.cached
def reachable(symbols: frozenset[sympy.Symbol]) -> frozenset[str]:
    """Names of the quantities ``symbols`` refer to, directly or through derived formulas."""
    out: set[str] = set()
    todo = list(symbols)
    while todo:
        q = REGISTRY.by_symbol(todo.pop())
        if q.name in out:
            continue
        out.add(q.name)
        if q.kind == Kind.DERIVED:
            todo.extend(q.expr.free_symbols)
    return frozenset(out)


@REGISTRY.cached
def bypassed(q: Quantity) -> frozenset[str]:
    """Derived quantities ``q`` was derived through but whose names its formula no longer uses.

    A solved or substituted formula opens up intermediate quantities; pinning
    one of those must derive the formula again with it kept as a name.
    """
    if q.basis is None:
        return frozenset()
    via = reachable(frozenset(q.basis)) - reachable(frozenset(q.expr.free_symbols))
    return frozenset(n for n in via if REGISTRY.get(n).kind == Kind.DERIVED)


def neutral_values() -> dict[sympy.Symbol, sympy.Expr]:
    """Every estimate factor's symbol and the value it takes in bound mode."""
    return _neutral(REGISTRY.generation)


@cache
def _neutral(generation: int) -> dict[sympy.Symbol, sympy.Expr]:
    """Estimate factors at their neutral values, and derived quantities that become a number with them
    (the fixed time of a step is 0 in bound mode), so bound formulas read as the chapter's."""
    out: dict[sympy.Symbol, sympy.Expr] = {}
    for q in REGISTRY:
        if q.neutral is not None:
            out[q.symbol] = sympy.nsimplify(q.neutral)
        elif q.kind == Kind.DERIVED and q.expr.free_symbols & out.keys():
            reduced = q.expr.xreplace(out)
            if reduced.is_Number:
                out[q.symbol] = reduced
    return out


def to_mode(expr: sympy.Expr, mode: str) -> sympy.Expr:
    """``expr`` in ``mode``: in bound mode every estimate factor takes its neutral value (1 or 0)."""
    if mode == ESTIMATE:
        return expr
    if mode != BOUND:
        raise ValueError(f"unknown mode {mode!r}")
    subs = {s: v for s, v in neutral_values().items() if s in expr.free_symbols}
    return expr.xreplace(subs) if subs else expr


@REGISTRY.cached
def formula(q: Quantity, pins: frozenset[str] = frozenset(), mode: str = BOUND) -> sympy.Expr | None:
    """``q``'s formula (or default rule) given the pinned quantities, in ``mode``.

    A closed form that opened up a pinned quantity is derived again with the
    pin kept as a name, so the formula always matches the value computed from
    it. This is the first step of every lowering (text, LaTeX, numpy, Excel).
    """
    if q.expr is None:
        return None
    keep = bypassed(q) & pins if q.kind == Kind.DERIVED else frozenset()
    expr = q.rederive(keep) if keep else q.expr
    return to_mode(expr, mode)


def kept_pins(q: Quantity, pins: frozenset[str]) -> frozenset[str]:
    """The pins ``q``'s closed form opened up (and so must be derived again around)."""
    return bypassed(q) & pins if q.kind == Kind.DERIVED else frozenset()


@REGISTRY.cached
def constant_number(q: Quantity) -> sympy.Expr:
    """A constant's value in base units, exact (2 FLOPs; one ms as 1/1000)."""
    return sympy.nsimplify(q.value * q.factor)


@REGISTRY.cached
def as_read(q: Quantity) -> sympy.Expr:
    """A constant as people read it: its number in its own unit, times the unit where that is not a base unit.

    ``one("chip")`` reads as 1, the 2 FLOPs of a multiply-add as 2, ``one("year")`` as ``yr``: never as the
    31,536,000 seconds it is in base units.
    """
    number = sympy.nsimplify(q.value)
    return number if q.factor == 1 else number * unit_symbol(q.unit)


def unit_symbol(unit: pint.Unit) -> sympy.Symbol:
    """A unit as a symbol for formula text (``ms``, ``yr``, ``(USD/kWh)``)."""
    text = f"{unit:~C}"
    return sympy.Symbol(f"({text})" if "/" in text or "*" in text else text, positive=True)


def shown(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` as people read it: each constant as :func:`as_read` gives it."""
    subs = {s: as_read(REGISTRY.by_symbol(s)) for s in expr.free_symbols
            if REGISTRY.by_symbol(s).kind == Kind.CONSTANT}
    return expr.xreplace(subs)


def default_text(q: Quantity) -> str | None:
    """An input's default as people read it: ``15 ms``, ``0.4``, or its rule in names."""
    if q.expr is None:
        return None
    if q.has_rule:
        return sympy.sstr(shown(formula(q)))
    value = float(q.expr.xreplace({s: constant_number(REGISTRY.by_symbol(s)) for s in q.expr.free_symbols}))
    value /= q.factor
    unit = f"{q.unit:~P}" if str(q.unit) != "dimensionless" else ""
    return f"{value:g} {unit}".strip()


@REGISTRY.cached
def text(q: Quantity, pins: frozenset[str] = frozenset(), mode: str = BOUND) -> str | None:
    """The formula in snake_case names, as ``formula`` gives it."""
    expr = formula(q, pins, mode)
    return None if expr is None else sympy.sstr(shown(expr))


def symbol_names() -> dict[sympy.Symbol, str]:
    """Each declared symbol's display symbol, and each unit a formula shows, upright."""
    out = {q.symbol: q.display for q in REGISTRY}
    out.update({unit_symbol(q.unit): rf"\mathrm{{{f'{q.unit:~C}'}}}" for q in REGISTRY
                if q.kind == Kind.CONSTANT and q.factor != 1})
    return out


@REGISTRY.cached
def latex(q: Quantity, pins: frozenset[str] = frozenset(), mode: str = BOUND) -> str:
    """``symbol = formula`` in LaTeX, with the declared display symbols."""
    expr = formula(q, pins, mode)
    if expr is None:
        return q.display
    return f"{q.display} = {sympy.latex(shown(expr), symbol_names=symbol_names())}"
