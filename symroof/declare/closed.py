"""Closed forms derived before: a mapping that whoever holds a derivation cache gives the declarations.

Solving every threshold takes seconds of sympy; a fresh derivation cache
already holds each closed form (keyed by a hash of these very sources and
the sympy version, so it is what solving would give). :mod:`symroof.derive`
provides them here before the model declares itself; a threshold found here is
read, not solved. Nothing here knows where the mapping comes from.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy
from sympy.codegen.cfunctions import log2
from sympy.core.symbol import Str

from .functions import ErlangC, Saturation, Select

_KNOWN: dict[str, str] = {}


def provide(forms: Mapping[str, str]) -> None:
    """Closed forms (sympy ``srepr`` text by threshold name) to read instead of solving."""
    _KNOWN.update(forms)


def known(name: str) -> sympy.Expr | None:
    """``name``'s closed form, if one was provided."""
    text = _KNOWN.get(name)
    if text is None:
        return None
    namespace = {k: getattr(sympy, k) for k in dir(sympy) if not k.startswith("_")}
    namespace.update(Select=Select, ErlangC=ErlangC, Saturation=Saturation, Str=Str, log2=log2)
    return eval(text, namespace)  # noqa: S307 - srepr text symroof wrote into its own cache, checked by its key
