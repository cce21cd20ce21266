"""Formulas derived again around pinned quantities, compiled on demand (sympy).

A closed form that opened up a quantity the user pins (``--set
param_bytes=100GB``) must be derived again with that quantity kept as a name,
so that the formula shown and the value computed agree. This happens once per
quantity, pin set and mode in a process.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import sympy

from ..declare import formula, shown
from ..declare.quantity import symbol_names
from ..printing.numpy import compile_function
from .build import regime_texts
from .declared import REGISTRY
from .lower import lowered, resolve


@cache
def pinned_function(name: str, keep: frozenset[str], mode: str,
                    structure: tuple[tuple[str, str], ...] = ()) -> tuple[Callable, str]:
    """The function and formula text of ``name`` derived again with the quantities in ``keep`` pinned.

    The text is the branch of the model's ``structure`` (dense or MoE).
    """
    q = REGISTRY.get(name)
    text = sympy.sstr(shown(resolve(formula(q, keep, mode), dict(structure))))
    return compile_function(f"_pinned_{name}", lowered(q, keep, mode)), text


@cache
def pinned_regimes(name: str, keep: frozenset[str], mode: str, choice: str | None) -> tuple[tuple[str, str], ...]:
    """A threshold's regimes, ``(closed form, holds when)``, solved again with ``keep`` pinned."""
    return tuple(tuple(r) for r in regime_texts(REGISTRY.get(name), keep, mode, choice))


@cache
def pinned_latex(name: str, keep: frozenset[str], structure: tuple[tuple[str, str], ...]) -> str:
    """``symbol = closed form`` in LaTeX with ``keep`` pinned, for the model's structure."""
    q = REGISTRY.get(name)
    expr = shown(resolve(formula(q, keep, "bound"), dict(structure)))
    return f"{q.display} = {sympy.latex(expr, symbol_names=symbol_names())}"
