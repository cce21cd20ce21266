"""Compiling declared formulas to numpy functions (scalars and arrays alike).

Constants are substituted by their base-unit values and categorical choices
resolved first, so the compiled function takes base-unit magnitudes of the
formula's direct dependencies and returns the base-unit magnitude.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache

import numpy
import sympy
from sympy.printing.numpy import NumPyPrinter

from .quantity import REGISTRY, Quantity, Select


class _Printer(NumPyPrinter):
    """NumPy printer whose Max/Min broadcast a scalar against an array."""

    def _nested(self, func: str, args) -> str:
        head, *rest = args
        if not rest:
            return self._print(head)
        return f"numpy.{func}({self._print(head)}, {self._nested(func, rest)})"

    def _print_Max(self, expr) -> str:
        return self._nested("maximum", expr.args)

    def _print_Min(self, expr) -> str:
        return self._nested("minimum", expr.args)


def codegen(args: list[sympy.Symbol], exprs: list[sympy.Expr]) -> Callable:
    """A numpy function of ``args`` returning ``exprs`` (shared subexpressions computed once).

    The same printer as :func:`compiled`, without lambdify's namespace set-up
    (which imports all of numpy by name on first use and costs more than a
    sweep of a million points).
    """
    printer = _Printer({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": False})
    subs, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols("_x"))
    lines = [f"def _sweep({', '.join(a.name for a in args)}):"]
    lines += [f"    {s} = {printer.doprint(e)}" for s, e in subs]
    lines.append(f"    return [{', '.join(printer.doprint(e) for e in reduced)}]")
    namespace = {"numpy": numpy}
    exec(compile("\n".join(lines), "<symroof sweep>", "exec"), namespace)  # noqa: S102 - our own printed code
    return namespace["_sweep"]


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


def resolve_choices(expr: sympy.Expr, choices: Mapping[str, str]) -> sympy.Expr:
    """``expr`` with every :class:`Select` replaced by the option its key's choice picks."""
    return expr.replace(
        lambda e: isinstance(e, Select),
        lambda e: e.choose(choices[REGISTRY.by_symbol(e.key).name]),
    )


def numeric_expr(q: Quantity, choices: Mapping[str, str], expr: sympy.Expr | None = None) -> sympy.Expr:
    """``q``'s formula (or ``expr``) with choices resolved and constants replaced by base-unit numbers.

    The result is in base units; it is what the numpy and Excel forms print.
    """
    return numeric(resolve_choices(q.expr if expr is None else expr, choices))


def numeric(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with every constant replaced by its base-unit number."""
    subs = {}
    for s in expr.free_symbols:
        if REGISTRY.by_symbol(s).kind == "constant":
            subs[s] = constant_value(s.name)
    return expr.xreplace(subs)


@cache
def constant_value(name: str) -> sympy.Expr:
    """A constant's base-unit value as an exact sympy number."""
    c = REGISTRY.get(name)
    return sympy.nsimplify(c.value * c.factor)


def choice_keys(q: Quantity) -> tuple[str, ...]:
    """Names of the categorical inputs ``q``'s formula selects on."""
    return tuple(sorted(REGISTRY.by_symbol(e.key).name for e in q.expr.atoms(Select)))


@cache
def _compile(name: str, choices: tuple[tuple[str, str], ...],
             keep: frozenset[str]) -> tuple[Callable, tuple[str, ...]]:
    q = REGISTRY.get(name)
    expr = numeric_expr(q, dict(choices), q.rederive(keep) if keep else q.expr)
    args = tuple(sorted(s.name for s in expr.free_symbols))
    func = sympy.lambdify([sympy.Symbol(a, positive=True) for a in args], expr,
                          modules=[{"numpy": numpy}, "numpy"], printer=_Printer, cse=True)
    return func, args


def compiled(q: Quantity, choices: Mapping[str, str],
             keep: frozenset[str] = frozenset()) -> tuple[Callable, tuple[str, ...]]:
    """The numpy function of ``q`` and the names of its arguments, in order.

    ``keep`` names pinned quantities that ``q``'s closed form opened up: the
    formula is derived again with them kept as names.
    """
    key = tuple((k, choices[k]) for k in choice_keys(q))
    return _compile(q.name, key, frozenset(keep))
