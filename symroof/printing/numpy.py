"""NumPy code from sympy expressions, for scalars and arrays alike.

sympy's ``NumPyPrinter`` prints ``Max`` as ``numpy.amax((a, b), axis=0)``,
which fails when a scalar meets an array; here Max/Min are nested
``numpy.maximum``/``numpy.minimum``, which broadcast.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy
import sympy
from sympy.printing.numpy import NumPyPrinter


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
    namespace = {"numpy": numpy}
    exec(compile("\n".join(lines), f"<symroof {name}>", "exec"), namespace)  # noqa: S102 - code we printed
    return namespace[name]
