"""The declared model for code that works on its formulas (sweeps, sensitivities, workbooks, the API).

Importing this module declares every quantity, giving the declarations the
closed forms a fresh derivation cache already holds, so that no threshold is
solved again. Import the model from here, not from :mod:`symroof.model`
directly (which would solve every threshold, a few seconds of sympy).
"""

from __future__ import annotations

from ..declare import REGISTRY, closed
from ..runtime import store

closed.provide(store.closed_forms())  # before the model declares itself: its thresholds are read, not solved

from .. import model  # noqa: E402, F401  (declares every quantity, reading the closed forms just provided)

__all__ = ["REGISTRY", "model"]
