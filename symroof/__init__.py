"""symroof: symbolic roofline models of LLM serving.

Every quantity is declared once (name, symbol, unit, description, source);
every formula is a unit-checked sympy expression. See ``symroof.model`` for the
formulas, grouped as the seed chapter's sections are, and
``docs/architecture.md`` for how the package is laid out.

The public API is this module's names. Importing ``symroof`` is cheap: each
name loads its module on first use (PEP 562), because every submodule import
(the command line's included) imports this package first, and the names reach
numpy, pint and sympy.

Every analysis takes the same keywords and answers the same way (issue 29):
``evaluate``, ``serve``, ``plan``, ``frontier``, ``compare`` and ``sweep`` take
``overrides=`` (what ``--set`` gives), ``mode="bound"|"estimate"`` and
``calibration=``; a result's ``value(name, mode=None)`` is a pint quantity in
the mode the analysis was called with (the bound unless asked otherwise),
``magnitude()`` its number, ``to_frame()`` one row per quantity and a column
per mode.
"""

from __future__ import annotations

import importlib
import sys
import types

from .core.errors import CatalogError, InputError, SolveError, SymroofError, UnitError
from .core.version import __version__

__all__ = [
    "MODES", "Benchmark", "CatalogError", "Evaluation", "InputError", "Mode", "Pair", "Plan", "Q_", "Quantity",
    "REGISTRY", "Replayed", "Served", "SolveError", "SymroofError", "UnitError", "__version__",
    "calibrate", "compare", "evaluate", "export_workbook", "formula", "frontier", "pareto", "plan", "quantities",
    "serve", "serving_curve", "sweep", "symbol", "ureg",
]

#: Public name -> (module, attribute), loaded when first used.
_LAZY = {
    "Evaluation": ("evaluation", "Evaluation"), "evaluate": ("evaluation", "evaluate"),
    "Mode": ("evaluation.pair", "Mode"), "MODES": ("evaluation.pair", "MODES"), "Pair": ("evaluation.pair", "Pair"),
    "Q_": ("core.units", "Q_"), "ureg": ("core.units", "ureg"),
    "REGISTRY": ("derive.declared", "REGISTRY"), "Quantity": ("declare", "Quantity"),
    "serve": ("serve", "serve"), "Served": ("serve", "Served"),
    "Benchmark": ("replay", "Benchmark"), "Replayed": ("replay", "Replayed"),
    "plan": ("planner", "plan"), "Plan": ("planner", "Plan"), "frontier": ("planner", "frontier"),
    "compare": ("planner", "compare"),
    "sweep": ("sweep", "sweep"), "pareto": ("sweep", "pareto"),
    "serving_curve": ("plot", "serving_data"), "calibrate": ("fit", "fit"),
    "export_workbook": ("workbook.export", "export"),
}
#: Public functions named as their modules are: importing ``symroof.serve`` (the module) must not replace
#: ``symroof.serve`` (the function). The modules stay in ``sys.modules`` (``from symroof.serve import Served``).
_SHADOWED = frozenset({"serve", "sweep"})


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
