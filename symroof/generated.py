"""What code that symroof prints (the derivation cache, sweeps) may refer to; no sympy here."""

from __future__ import annotations

import numpy


def no_option(key: str, choice: str):
    """A ``Select`` met a choice it has no option for."""
    raise KeyError(f"{key}: no option for {choice!r}")


#: The global names of every generated function.
NAMESPACE = {"numpy": numpy, "_no_option": no_option}
