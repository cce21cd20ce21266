"""The one lowering path: a declared formula, given pins, mode and choices, as a target prints it.

Every consumer of a formula goes through here: evaluation code (numpy),
sweeps, sensitivities, the workbook (Excel, in reporting units), and every
place that shows formula text. The steps, in order:

1. :func:`symroof.declare.formula`: the declared formula, derived again
   around the pinned quantities its closed form opened up, in the mode
   (estimate factors at their neutral values in bound mode);
2. :func:`resolve`: each ``Select`` replaced by the option the choice picks;
3. :func:`numeric`: constants replaced by their base-unit numbers;
4. :func:`in_reporting_units` (Excel only): every reference and the result in
   the units a workbook shows.

``pins`` is always the set of names of pinned (user-set) derived quantities.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy

from ..declare import REGISTRY, Kind, Quantity, Select, formula
from ..declare.quantity import constant_number
from ..declare.rewrite import depends_on

Pins = frozenset[str]


def resolve(expr: sympy.Expr, choices: Mapping[str, str | sympy.Expr]) -> sympy.Expr:
    """``expr`` with each ``Select`` whose key has a choice replaced by that choice's option."""
    def pick(e: Select):
        choice = choices.get(e.key.name)
        if choice is None:
            return e
        return e.choose(str(choice))

    return expr.replace(lambda e: isinstance(e, Select) and e.key.name in choices, pick)


def numeric(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with every constant replaced by its exact base-unit number."""
    subs = {s: constant_number(q) for s in expr.free_symbols
            if (q := REGISTRY.by_symbol(s)).kind == Kind.CONSTANT}
    return expr.xreplace(subs) if subs else expr


def lowered(q: Quantity, pins: Pins = frozenset(), mode: str = "bound",
            choices: Mapping[str, str] | None = None) -> sympy.Expr:
    """``q``'s formula ready for a numeric target: pins, mode, choices and constants applied (base units)."""
    expr = formula(q, pins, mode)
    if choices:
        expr = resolve(expr, choices)
    return numeric(expr)


# --- opening formulas down to inputs (sensitivities, sweeps) ----------------------------------------------------

def rebuild(expr: sympy.Expr, mapping: Mapping[sympy.Basic, sympy.Expr]) -> sympy.Expr:
    """``expr.xreplace(mapping)``, but Max/Min with symbolic arguments are rebuilt without sympy's
    (slow, assumption-driven) search for redundant arguments; numbers still fold."""
    if expr in mapping:
        return mapping[expr]
    if not expr.args:
        return expr
    args = [rebuild(a, mapping) for a in expr.args]
    if isinstance(expr, sympy.Max | sympy.Min) and not all(a.is_Number for a in args):
        return expr.func(*args, evaluate=False)
    return expr.func(*args)


class Opener:
    """Opens quantities down to inputs through the formulas that ``pins`` and ``mode`` give.

    ``values`` maps input (or pinned) names to numbers (base units) or, for
    categorical inputs, choices: those are folded in. ``stop`` names quantities
    kept as symbols (varied inputs of a sweep). A quantity neither valued nor
    stopped nor derived stays a symbol too.
    """

    def __init__(self, pins: Pins = frozenset(), mode: str = "bound", values: Mapping | None = None,
                 stop: frozenset[str] = frozenset(), rules: bool = False) -> None:
        self.pins = pins
        self.mode = mode
        self.values = dict(values or {})
        self.stop = stop
        self.rules = rules  # open inputs' default rules too (when not valued)
        self.memo: dict[str, sympy.Expr] = {}

    def open(self, symbol: sympy.Symbol) -> sympy.Expr:
        name = symbol.name
        if name not in self.memo:
            self.memo[name] = self._open(REGISTRY.get(name))
        return self.memo[name]

    def _open(self, q: Quantity) -> sympy.Expr:
        if q.name in self.stop:
            return q.symbol
        if q.kind == Kind.CONSTANT:
            return constant_number(q)
        if q.name in self.values:
            v = self.values[q.name]
            return v if q.categorical else sympy.Float(float(v), 17)
        if q.kind == Kind.INPUT and not (self.rules and q.expr is not None):
            return q.symbol
        if q.name in self.pins:
            return q.symbol
        expr = formula(q, self.pins, self.mode)
        choices = {d.name: self.open(d.symbol) for d in q.dependencies if d.categorical}
        expr = resolve(expr, {k: v for k, v in choices.items() if isinstance(v, str)})
        return rebuild(expr, {s: self.open(s) for s in expr.free_symbols})

    def expr(self, q: Quantity) -> sympy.Expr:
        """``q`` opened down to what is not valued."""
        return self.open(q.symbol)


@REGISTRY.cached
def opened(q: Quantity, pins: Pins = frozenset(), mode: str = "bound") -> sympy.Expr:
    """``q`` over inputs, constants (as numbers) and pinned quantities: every derived quantity opened."""
    return Opener(pins, mode).expr(q)


# --- Excel: reporting units ------------------------------------------------------------------------------------

@REGISTRY.cached
def exact_factor(q: Quantity) -> sympy.Expr:
    """Base units per reporting unit, exact where it can be (1e9 -> 1000000000)."""
    return sympy.nsimplify(q.factor, rational=True)


def in_reporting_units(expr: sympy.Expr, unit_of: Quantity | None) -> sympy.Expr:
    """``expr`` (base units) over cells in reporting units, giving ``unit_of``'s reporting unit."""
    subs = {}
    for s in expr.free_symbols:
        q = REGISTRY.by_symbol(s) if s.name in REGISTRY else None
        if q is not None and not q.categorical and q.factor != 1:
            subs[s] = exact_factor(q) * s
    expr = expr.xreplace(subs)
    expr = expr / exact_factor(unit_of) if unit_of is not None and unit_of.factor != 1 else expr
    return expr.replace(lambda e: isinstance(e, sympy.Max | sympy.Min), _common_factor_out)


def _common_factor_out(node: sympy.Expr) -> sympy.Expr:
    """``Max(a/1000, b/1000)`` as ``Max(a, b)/1000``: unit factors shared by every branch, pulled out."""
    coeffs = [a.as_coeff_Mul()[0] for a in node.args]
    c = coeffs[0]
    if c == 1 or not c.is_positive or any(x != c for x in coeffs):
        return node
    return c * type(node)(*(a / c for a in node.args))


def excel_expr(q: Quantity | None, expr: sympy.Expr | None = None, pins: Pins = frozenset(),
               mode: str = "bound", structure: Mapping[str, str] | None = None) -> sympy.Expr:
    """What a workbook cell prints: ``q``'s formula (or ``expr`` in base units, giving ``q``'s unit),
    constants as numbers, references and result in reporting units. The model's structural choices
    (``structure``: dense or MoE) are fixed; other Selects stay (printed as IF)."""
    base = formula(q, pins, mode) if expr is None else expr
    if structure:
        base = resolve(base, structure)
    return in_reporting_units(numeric(base), q)


def through(q: Quantity, target: sympy.Symbol, pins: Pins = frozenset(), mode: str = "bound") -> sympy.Expr:
    """``q`` with every derived quantity on its way to ``target`` opened, so it mentions ``target`` directly.

    Quantities that do not depend on ``target``, and pinned ones, stay as
    names: a sweep row of a workbook refers to them by their defined names.
    """
    def open_(expr: sympy.Expr) -> sympy.Expr:
        subs = {}
        for s in expr.free_symbols:
            d = REGISTRY.by_symbol(s)
            if s == target or d.kind != Kind.DERIVED or d.name in pins or not depends_on(d.expr, target):
                continue
            subs[s] = open_(formula(d, pins, mode))
        return expr.xreplace(subs)

    return open_(q.symbol)
