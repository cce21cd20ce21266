"""symroof: symbolic roofline models of LLM serving.

Every quantity is declared once (name, symbol, unit, description, source);
every formula is a unit-checked sympy expression. See ``symroof.model`` for the
formulas, grouped as the seed chapter's sections are.

Importing symroof is cheap: evaluation runs from the derivation cache
(:mod:`symroof.runtime`); the sympy declarations (``REGISTRY``, ``formula``,
``symbol``) load on first use.
"""

from __future__ import annotations

__version__ = "0.2.0"

from .errors import CatalogError, InputError, SolveError, SymroofError, UnitError

__all__ = [
    "CatalogError", "Evaluation", "InputError", "Q_", "Quantity", "REGISTRY", "SolveError", "SymroofError",
    "UnitError",
    "evaluate", "formula", "quantities", "symbol", "ureg",
]

_LAZY = {
    "Evaluation": ("evaluation", "Evaluation"), "evaluate": ("evaluation", "evaluate"),
    "Q_": ("units", "Q_"), "ureg": ("units", "ureg"),
    "REGISTRY": ("declare", "REGISTRY"), "Quantity": ("declare", "Quantity"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        if module == "declare":
            importlib.import_module(".model", __name__)  # declares every quantity
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'symroof' has no attribute {name!r}")


def formula(name: str):
    """The declared quantity ``name`` (a :class:`symroof.declare.Quantity`); shows as LaTeX in Jupyter."""
    from . import model  # noqa: F401
    from .declare import REGISTRY

    return REGISTRY.get(name)


def symbol(name: str):
    """The sympy symbol of quantity ``name``, for building expressions of your own."""
    return formula(name).symbol


def quantities() -> list:
    """Every declared quantity, in declaration order."""
    from . import model  # noqa: F401
    from .declare import REGISTRY

    return list(REGISTRY)
