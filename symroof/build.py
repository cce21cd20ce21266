"""Deriving everything once: the closed forms, texts and numeric code of every quantity.

The command line must start at once, so nothing it runs may call sympy's
solver. This module turns the declarations into a plain Python module (the
*derivation cache*): each quantity's metadata, its formula as text and LaTeX
in each mode, its solved regimes, and the numpy source of the function that
computes it from its direct dependencies. :mod:`symroof.runtime` loads it.

Where it lives, keyed by a hash of the declaring source files and the sympy
version (:func:`symroof.runtime.key`):

- ``symroof/_derived.py``, committed and shipped in the package, regenerated
  with ``python -m symroof.build`` (a test fails when it is stale);
- otherwise (declarations edited, or another sympy) the user cache,
  ``$SYMROOF_CACHE`` or ``$XDG_CACHE_HOME/symroof`` (``~/.cache/symroof``),
  rebuilt on first use; where nothing is writable, in memory only.
"""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path
from pprint import pformat

import sympy

from . import model as _model  # noqa: F401  (declares every quantity)
from .build_format import FORMAT
from .declare import BOUND, ESTIMATE, MODES, REGISTRY, Kind, Quantity, Select, formula, shown
from .declare.quantity import bypassed, default_text, latex, symbol_names, text, to_mode
from .declare.solving import regimes
from .lower import lowered, resolve
from .model import GROUPS
from .printing.numpy import function_source


def function_name(name: str, mode: str, rule: bool = False) -> str:
    return f"_{'rule' if rule else 'f'}_{mode}_{name}"


def _unit_short(q: Quantity) -> str:
    return f"{q.unit:~P}" if str(q.unit) != "dimensionless" else ""


def spec(q: Quantity) -> dict:
    """Everything the runtime needs to know about ``q``, as plain data."""
    out = {
        "name": q.name, "display": q.display, "unit": "" if str(q.unit) == "dimensionless" else str(q.unit),
        "unit_short": _unit_short(q), "factor": q.factor, "description": q.description, "source": q.source,
        "group": q.group, "kind": q.kind.value, "label": q.label, "title": q.title, "integer": q.integer,
        "at_most": q.at_most, "plausible": list(q.plausible) if q.plausible else None,
        "choices": list(q.choices) if q.choices else None, "default_choice": q.default_choice,
        "boolean": q.boolean, "neutral": q.neutral, "choice_list": q.choice_list, "structural": q.structural,
        "nonnegative": q.nonnegative, "formula_for": {}, "requires": list(q.requires),
        "says": list(q.says) if q.says else None, "on_false": q.on_false, "regime": q.regime,
        "deps": [d.name for d in q.dependencies if d.kind != Kind.CONSTANT],
        "opened": sorted(bypassed(q)) if q.kind == Kind.DERIVED else [],
        "default": None, "default_text": None, "formula": {}, "latex": {}, "code": {},
        "equation": None, "equation_latex": None, "unknown": None, "regimes": [], "regimes_for": {}, "per": q.per,
    }
    if q.kind == Kind.CONSTANT:
        out["value"] = q.value
        return out
    out["latex"] = {m: latex(q, frozenset(), m) for m in MODES}
    if q.kind == Kind.INPUT:
        if q.expr is not None:
            out["default_text"] = default_text(q)
            if q.has_rule:
                out["default"] = "rule"
                out["formula"] = {m: text(q, frozenset(), m) for m in MODES}
                out["code"] = {m: function_name(q.name, m, rule=True) for m in _modes(q)}
            else:
                out["default"] = float(lowered(q))
        return out
    out["formula"] = {m: text(q, frozenset(), m) for m in MODES}
    out["formula_for"] = structural_texts(q)
    out["code"] = {m: function_name(q.name, m) for m in _modes(q)}
    if q.derivation is not None:
        eq = q.derivation
        names = symbol_names()
        out["equation"] = (f"{sympy.sstr(shown(to_mode(eq.lhs, BOUND)))} = "
                           f"{sympy.sstr(shown(to_mode(eq.rhs, BOUND)))}, solved for {q.unknown}")
        out["equation_latex"] = [sympy.latex(shown(to_mode(side, BOUND)), symbol_names=names)
                                 for side in (eq.lhs, eq.rhs)]
        out["unknown"] = q.unknown.name
        out["regimes"] = regime_texts(q, frozenset(), BOUND, defaults().get(q.per))
        out["regimes_for"] = {f"{q.per}={c}": regime_texts(q, frozenset(), BOUND, c)
                              for c in (REGISTRY.get(q.per).choices if q.per else ()) if c not in q.unsolved}
    return out


def defaults() -> dict[str, str]:
    """The default structure: the choice of each structural input when a model does not say (dense, gqa)."""
    return {q.name: q.default_choice for q in REGISTRY if q.structural}


def regime_texts(q: Quantity, keep: frozenset[str], mode: str, choice: str | None = None) -> list[list[str]]:
    """``[closed form, holds when]`` of each regime of a solved threshold; one solved per structural choice
    gives the regimes of ``choice`` (none when that choice's value is given, not solved)."""
    eq = q.derivation
    if q.per is None:
        return [[sympy.sstr(shown(to_mode(r.root, mode))), r.text] for r in regimes(eq, q.unknown, keep,
                                                                                 largest=q.largest)]
    if choice in q.unsolved:
        return []
    return [[sympy.sstr(shown(to_mode(r.root, mode))), r.text]
            for r in regimes(eq, q.unknown, keep, ((q.per, choice),), q.largest)]


def structural_key(mode: str, choices: dict[str, str]) -> str:
    """``bound|mlp=dense``: how texts that depend on a model's structure are filed."""
    return "|".join([mode, *(f"{k}={v}" for k, v in sorted(choices.items()))])


def structural_texts(q: Quantity, pins: frozenset[str] = frozenset()) -> dict[str, str]:
    """``q``'s formula text for each structural choice it selects on (a dense model reads the dense formula)."""
    keys = sorted({sel.key.name for m in MODES for sel in formula(q, pins, m).atoms(Select)
                   if REGISTRY.get(sel.key.name).structural})
    if not keys:
        return {}
    out = {}
    for combo in itertools.product(*(REGISTRY.get(k).choices for k in keys)):
        choices = dict(zip(keys, combo, strict=True))
        for m in MODES:
            out[structural_key(m, choices)] = sympy.sstr(shown(resolve(formula(q, pins, m), choices)))
    return out


def _modes(q: Quantity) -> tuple[str, ...]:
    """The modes whose code differs: bound always; estimate where an estimate factor enters."""
    return MODES if formula(q, frozenset(), ESTIMATE) != formula(q, frozenset(), BOUND) else (BOUND,)


def source(key: str) -> str:
    """The derivation cache as Python source."""
    specs, functions = [], []
    for q in REGISTRY:
        s = spec(q)
        specs.append(s)
        for mode, fname in list(s["code"].items()):
            functions.append(function_source(fname, lowered(q, frozenset(), mode)))
        if s["code"] and ESTIMATE not in s["code"]:
            s["code"][ESTIMATE] = s["code"][BOUND]  # the same formula in both modes
    groups = [(g.name, g.title) for g in GROUPS]
    closed = {q.name: sympy.srepr(q.expr) for q in REGISTRY if q.derivation is not None}
    lines = [
        '"""The derivation cache: generated by ``python -m symroof.build``; do not edit."""',
        "# fmt: off",
        "# ruff: noqa",
        f"FORMAT = {FORMAT}",
        f"KEY = {key!r}",
        f"GROUPS = {groups!r}",
        f"SPECS = {pformat(specs, width=120, sort_dicts=False)}",
        "# each solved threshold's closed form (sympy srepr): declaring the model reads these instead of solving",
        f"CLOSED_FORMS = {pformat(closed, width=120)}",
        "",
        *functions,
        f"COUNT = {len(specs)}",
        "COMPLETE = True",
        "",
    ]
    return "\n".join(lines)


PACKAGE_FILE = Path(__file__).with_name("_derived.py")


def main(argv: list[str] | None = None) -> int:
    """``python -m symroof.build``: regenerate ``symroof/_derived.py``."""
    from .files import write_text_atomically
    from .runtime import key

    text_ = source(key())
    write_text_atomically(text_, PACKAGE_FILE)
    count = len(re.findall(r"^def ", text_, flags=re.M))
    print(f"{PACKAGE_FILE}: {len(REGISTRY)} quantities, {count} functions", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
