"""symroof: symbolic roofline models of LLM serving.

Every quantity is declared once (name, symbol, unit, description, source);
every formula is a unit-checked sympy expression. See ``symroof.model`` for the
formulas, grouped as the seed chapter's sections are, and
``docs/architecture.md`` for how the package is laid out.

The public API is this module's names. Importing ``symroof`` is cheap: each
name loads its module on first use (PEP 562), because every submodule import
(the command line's included) imports this package first, and the names reach
numpy, pint and sympy.
"""

from __future__ import annotations

import importlib

from .core.errors import CatalogError, InputError, SolveError, SymroofError, UnitError
from .core.version import __version__

__all__ = [
    "CatalogError", "Evaluation", "InputError", "Q_", "Quantity", "REGISTRY", "SolveError", "SymroofError",
    "UnitError", "__version__",
    "evaluate", "formula", "quantities", "symbol", "ureg",
]

#: Public name -> (module, attribute), loaded when first used.
_LAZY = {
    "Evaluation": ("evaluation", "Evaluation"), "evaluate": ("evaluation", "evaluate"),
    "Q_": ("core.units", "Q_"), "ureg": ("core.units", "ureg"),
    "REGISTRY": ("derive.declared", "REGISTRY"), "Quantity": ("declare", "Quantity"),
}


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'symroof' has no attribute {name!r}")


def formula(name: str):
    """The declared quantity ``name`` (a :class:`symroof.declare.Quantity`); shows as LaTeX in Jupyter."""
    return __getattr__("REGISTRY").get(name)


def symbol(name: str):
    """The sympy symbol of quantity ``name``, for building expressions of your own."""
    return formula(name).symbol


def quantities() -> list:
    """Every declared quantity, in declaration order."""
    return list(__getattr__("REGISTRY"))
