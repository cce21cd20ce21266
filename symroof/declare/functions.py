"""sympy functions of symroof's own: what a categorical input selects.

``Select`` holds its options keyed by choice (``Tuple(Str("bf16"), value)``),
not by position, so reordering a dict of choices elsewhere can never swap
values. It is never evaluated by sympy; a lowering resolves it once the choice
is known, or a printer writes it as a conditional.
"""

from __future__ import annotations

import sympy
from sympy.core.symbol import Str


class Select(sympy.Function):
    """``Select(key, (choice_1, v_1), ..., (choice_n, v_n))``: the value of ``key``'s choice."""

    @classmethod
    def eval(cls, *args):  # noqa: D102 - sympy hook: stay unevaluated
        return None

    def _eval_is_extended_real(self):
        return sympy.core.logic.fuzzy_and(v.is_extended_real for v in self.options)

    def _eval_is_extended_positive(self):
        return sympy.core.logic.fuzzy_and(v.is_extended_positive for v in self.options)

    def _eval_is_extended_nonnegative(self):
        return sympy.core.logic.fuzzy_and(v.is_extended_nonnegative for v in self.options)

    @property
    def key(self) -> sympy.Symbol:
        return self.args[0]

    @property
    def pairs(self) -> tuple[tuple[str, sympy.Expr], ...]:
        """``((choice, value), ...)`` in declaration order."""
        return tuple((str(p.args[0]), p.args[1]) for p in self.args[1:])

    @property
    def options(self) -> tuple[sympy.Expr, ...]:
        return tuple(v for _, v in self.pairs)

    def choose(self, choice: str) -> sympy.Expr:
        """The option for ``choice``; a choice with no option is an error, never a neighbour's value."""
        for c, v in self.pairs:
            if c == choice:
                return v
        raise KeyError(f"{self.key}: no option for {choice!r}")

    def _latex(self, printer) -> str:
        rows = [rf"{printer._print(v)} & \text{{if }} {printer._print(self.key)} = \text{{{c}}}"
                for c, v in self.pairs]
        return r"\begin{cases}" + r" \\ ".join(rows) + r"\end{cases}"

    def _sympystr(self, printer) -> str:
        pairs = ", ".join(f"{c}: {printer._print(v)}" for c, v in self.pairs)
        return f"select({self.key.name}, {{{pairs}}})"


def make_select(key: sympy.Symbol, options: dict[str, sympy.Expr]) -> Select:
    """``Select`` from a ``{choice: value}`` mapping."""
    return Select(key, *(sympy.Tuple(Str(c), sympy.sympify(v)) for c, v in options.items()))


class ErlangC(sympy.Function):
    """The Erlang C formula: the chance an arrival waits in an M/M/c queue of ``c`` servers offered ``a``
    erlangs (a < c). No closed form in elementary functions; each printer writes its own exact evaluation
    (numpy: the Erlang B recursion; Excel: through Poisson distributions), and the solver treats it as opaque.
    """

    nargs = 2

    def _eval_is_extended_real(self):
        return True

    def _eval_is_nonnegative(self):
        return True


class Saturation(sympy.Function):
    """0 while a queue's utilisation ``x`` is below 1, undefined (nan) at or beyond it: added to a steady-state
    time, it leaves the time where a steady state exists and marks the rest as having none. A function rather
    than a Piecewise, so that a condition holding it (a batch above a cap) is never folded by sympy, which
    cannot compare nan; each printer writes it as a conditional."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_Number and x < 1:
            return sympy.Integer(0)
        return None

    def _eval_is_extended_real(self):
        return None
