"""Formulas as short text: a long formula with its repeated parts named, ``x1 = ...``.

A closed form solved through several regimes can run to thousands of
characters (the estimate-mode batch for a latency target on an MoE model);
as one line it is unreadable. :func:`short_form` names each part that occurs
more than once (``sympy.cse``) and gives the formula over those names, so
``symroof explain`` can print it as a formula and a list of "where" lines.
"""

from __future__ import annotations

import sympy

#: Formulas longer than this (characters of text) are given a short form.
LONG = 160


def short_form(expr: sympy.Expr, limit: int = LONG) -> tuple[str, list[tuple[str, str]]] | None:
    """``(formula over x1, x2, ..., [(x1, its text), ...])`` for a long formula; None when it is short already."""
    if len(sympy.sstr(expr)) <= limit:
        return None
    names = sympy.numbered_symbols("x", start=1, real=True)
    parts, (reduced,) = sympy.cse(expr, symbols=names, order="none")
    if not parts:
        return None
    return sympy.sstr(reduced), [(str(name), sympy.sstr(part)) for name, part in parts]

