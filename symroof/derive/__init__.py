"""Deriving the model once: closed forms, texts and numpy code of every declared quantity.

This is the one place that knows both the declarations and the runtime store.
:func:`table` gives the model's table: from the derivation cache when it is
fresh, else derived now with sympy (a few seconds, said in one line) and
written to the cache for every later run. :func:`pinned_function` derives one
formula again around pinned quantities. ``python -m symroof.derive``
rebuilds the cache.

The command line must start without sympy, so the modules that use it
(:mod:`.build`, :mod:`.pins`) are imported only when a derivation is needed.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from functools import cache

from ..runtime import Table, store


def _sympy_side(name: str):
    """A module of this package that needs sympy and the declarations (slow to import; most runs never do)."""
    return importlib.import_module(f"{__name__}.{name}")


def table() -> Table:
    """The model's table: from a fresh derivation cache, or derived now; live when a script declared more."""
    declared = sys.modules.get("symroof.model")
    if declared is not None and _extended(declared.REGISTRY.generation):
        return _live(declared.REGISTRY.generation)
    want = store.key()
    found = store.load(want)
    if found is not None:
        return found
    return _derived(want)


@cache
def _extended(generation: int) -> bool:
    """Whether the registry holds quantities the model did not declare (a script or a test added some)."""
    model = sys.modules["symroof.model"]
    return frozenset(model.REGISTRY) != model.DECLARED


@cache
def _live(generation: int) -> Table:
    return _sympy_side("build").table_of_registry(f"live-{generation}", write=False)


@cache
def _derived(want: str) -> Table:
    with store.building(want):
        found = store.load(want)  # another process may have derived it while this one waited
        if found is not None:
            return found
        return _sympy_side("build").table_of_registry(want, write=True)


def pinned_function(name: str, keep: frozenset[str], mode: str,
                    structure: tuple[tuple[str, str], ...] = ()) -> tuple[Callable, str]:
    """The function and formula text of ``name`` derived again with the quantities in ``keep`` pinned."""
    return _sympy_side("pins").pinned_function(name, keep, mode, structure)


def pinned_regimes(name: str, keep: frozenset[str], mode: str, choice: str | None) -> tuple[tuple[str, str], ...]:
    """A threshold's regimes solved again with the quantities in ``keep`` pinned."""
    return _sympy_side("pins").pinned_regimes(name, keep, mode, choice)


def pinned_latex(name: str, keep: frozenset[str], structure: tuple[tuple[str, str], ...]) -> str:
    """``symbol = closed form`` in LaTeX with the quantities in ``keep`` pinned."""
    return _sympy_side("pins").pinned_latex(name, keep, structure)
