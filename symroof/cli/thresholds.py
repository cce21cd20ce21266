"""solve and sensitivity: closed-form thresholds and elasticities."""

from __future__ import annotations

import argparse
import json

from ..core.errors import InputError
from ..derive import pinned_latex, pinned_regimes, table
from .common import operating_point, warn


def where_text(ev) -> str:
    """``llama-3-70b on tpu-v5e``, naming only what was used."""
    return " on ".join(i for i in (ev.model.id, ev.hardware.id) if i)


def _structure(s, ev) -> dict[str, str]:
    """The structural choices the answer is for: the model's, or the default (dense) when none is given."""
    if ev is not None and ev.model.id:
        return ev.structure
    return {x.name: x.default_choice for x in table() if x.structural}


def _regimes(s, ev, structure: dict[str, str]) -> list[tuple[str, str]]:
    """(closed form, holds when) per regime, derived again where pins require."""
    keep = s.opened & ev.pins if ev is not None else frozenset()
    if not keep:
        if s.per is None:
            return [tuple(r) for r in s.regimes]
        return [tuple(r) for r in s.regimes_for.get(f"{s.per}={structure[s.per]}", [])]
    return list(pinned_regimes(s.name, keep, ev.mode, structure.get(s.per)))


def cmd_solve(args: argparse.Namespace) -> str:
    t = table()
    s = t.get(args.name)
    if not s.solved:
        solved_names = ", ".join(x.name for x in t if x.solved)
        raise InputError(f"{s.name} is not a solved threshold; solved ones: {solved_names}")
    ev = operating_point(args, s.name)
    structure = _structure(s, ev)
    value = None
    closed = s.formula_text("bound", structure)
    if ev is not None:
        if s.name in ev.unavailable:
            raise InputError(f"{s.name} is unavailable: {ev.unavailable[s.name]}")
        value = ev.magnitude(s.name)
        closed = ev.formula_text(s.name) if ev.model.id else closed
        warn(ev.warnings())
    found = _regimes(s, ev, structure)
    others = {}  # the closed form for the other structures (an MoE model's, when this is a dense one)
    if s.per is not None:
        for choice in t.get(s.per).choices:
            if choice != structure.get(s.per):
                others[f"{s.per}={choice}"] = s.formula_text("bound", {**structure, s.per: choice})
    if args.format == "json":
        entry = {"value": value, "unit": s.unit_text, "kind": "derived", "formula": closed, "source": s.source,
                 "closed_form": closed, "equation": s.equation, "regime": s.regime,
                 "regimes": [{"closed_form": c, "holds_when": h} for c, h in found],
                 "structure": structure if s.per else {}, "other_structures": others}
        return json.dumps({"model": (ev.model.id or None) if ev else None,
                           "hardware": (ev.hardware.id or None) if ev else None,
                           "quantities": {s.name: entry}}, indent=2)
    if args.format == "latex":
        lhs, rhs = s.equation_latex
        lines = [f"{lhs} = {rhs}", _latex(s.name, ev, structure)]
        if value is not None:
            lines.append(rf"{s.display} = {value:.4g}\ \text{{{s.unit_short}}}")
        return "\n".join(lines)
    shape = ", ".join(f"{k} = {v}" for k, v in structure.items() if k == s.per)
    lines = [f"{s.name}: {s.description}",
             f"  from:        {s.equation}",
             f"  closed form: {s.name} = {closed}" + (f"  (for {shape})" if shape else ""),
             f"  holds when:  {s.regime}"]
    if len(found) > 1:
        for c, h in found:
            lines.append(f"  regime:      {c}  when {h}")
    for key, text in others.items():
        lines.append(f"  for {key.replace('=', ' = ')}: {s.name} = {text}")
    if ev is not None:
        lines.append(f"  value:       {value:.4g} {s.unit_short}  ({where_text(ev)})")
    return "\n".join(lines)


def _latex(name: str, ev, structure: dict[str, str]) -> str:
    """``symbol = closed form`` in LaTeX for the structure (and pins) of the answer."""
    s = table().get(name)
    keep = frozenset(s.opened & (ev.pins if ev is not None else frozenset()))
    if keep:
        return pinned_latex(name, keep, tuple(sorted(structure.items())))
    used = {part.split("=")[0] for key in s.latex_for for part in key.split("|")[1:]}
    key = "|".join(["bound", *(f"{k}={v}" for k, v in sorted(structure.items()) if k in used)])
    return s.latex_for.get(key, s.latex["bound"])
