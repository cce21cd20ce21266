"""NumPy code from sympy expressions, for scalars and arrays alike.

sympy's ``NumPyPrinter`` prints ``Max`` as ``numpy.amax((a, b), axis=0)``,
which fails when a scalar meets an array; here Max/Min are nested
``numpy.maximum``/``numpy.minimum``, which broadcast. Two forms:

- :func:`codegen`: one function of positional arguments returning several
  expressions, shared subexpressions computed once (sweeps, sensitivities);
- :func:`function_source`: the source of ``f(v)`` for one formula, reading
  each quantity as ``v["name"]`` so that a lazy mapping computes only what the
  chosen branch of a ``Select`` needs (evaluation; stored in the derivation
  cache, so it must not depend on anything but the expression).
"""

from __future__ import annotations

from collections.abc import Callable

import sympy
from sympy.printing.numpy import NumPyPrinter

from ..core.numeric import NAMESPACE


class ArrayPrinter(NumPyPrinter):
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

    def _print_Piecewise(self, expr) -> str:
        *cases, (last, cond) = expr.args
        if cond != sympy.true:
            raise ValueError(f"a Piecewise needs a final 'otherwise' branch: {expr}")
        text = self._print(last)
        for value, condition in reversed(cases):
            text = f"numpy.where({self._print(condition)}, {self._print(value)}, {text})"
        return text

    def _print_Relational(self, expr) -> str:
        return f"({self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)})"

    def _print_Or(self, expr) -> str:
        return self._nested("logical_or", expr.args)

    def _print_And(self, expr) -> str:
        return self._nested("logical_and", expr.args)

    def _print_LambertW(self, expr) -> str:
        if len(expr.args) > 1:
            raise ValueError(f"only the principal branch of LambertW is printed: {expr}")
        return f"_lambertw({self._print(expr.args[0])})"


    def _print_ErlangC(self, expr) -> str:
        return f"_erlang_c({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_Saturation(self, expr) -> str:
        return f"numpy.where(({self._print(expr.args[0])}) < 1, 0.0, numpy.nan)"


class RuntimePrinter(ArrayPrinter):
    """Prints declared quantities as ``v["name"]`` and a ``Select`` as a conditional on the choice."""

    def _print_Symbol(self, expr) -> str:
        return f'v["{expr.name}"]'

    def _print_Select(self, expr) -> str:
        key = self._print(expr.key)
        text = f'_no_option("{expr.key.name}", {key})'
        for choice, option in reversed(expr.pairs):
            text = f'({self._print(option)} if {key} == "{choice}" else {text})'
        return text


def function_source(name: str, expr: sympy.Expr) -> str:
    """``def name(v): return ...`` for ``expr`` over declared quantities (base units, constants as numbers)."""
    printer = RuntimePrinter({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": False})
    return f"def {name}(v):\n    return {printer.doprint(expr)}\n"


def compile_function(name: str, expr: sympy.Expr) -> Callable:
    """:func:`function_source`, compiled."""
    namespace = dict(NAMESPACE)
    exec(compile(function_source(name, expr), f"<symroof {name}>", "exec"), namespace)  # noqa: S102 - printed here
    return namespace[name]


def codegen(args: list[sympy.Symbol], exprs: list[sympy.Expr], name: str = "_formula") -> Callable:
    """A numpy function of ``args`` returning the list ``exprs`` (shared subexpressions computed once).

    lambdify would do the same, but its namespace set-up imports all of numpy
    by name on first use, which costs more than evaluating a million points.
    """
    printer = ArrayPrinter({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": False})
    subs, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols("_x"))
    lines = [f"def {name}({', '.join(a.name for a in args)}):"]
    lines += [f"    {s} = {printer.doprint(e)}" for s, e in subs]
    lines.append(f"    return [{', '.join(printer.doprint(e) for e in reduced)}]")
    namespace = dict(NAMESPACE)
    exec(compile("\n".join(lines), f"<symroof {name}>", "exec"), namespace)  # noqa: S102 - code we printed
    return namespace[name]
