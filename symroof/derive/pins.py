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
from ..printing.numpy import compile_function
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
