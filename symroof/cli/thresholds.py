"""solve and sensitivity: closed-form thresholds and elasticities."""

from __future__ import annotations

import argparse
import json

from ..core.errors import InputError
from .common import add_set, operating_point, warn


def _where(ev) -> str:
    """``llama-3-70b on tpu-v5e``, naming only what was used."""
    return " on ".join(i for i in (ev.model.id, ev.hardware.id) if i)


def _structure(s, ev) -> dict[str, str]:
    """The structural choices the answer is for: the model's, or the default (dense) when none is given."""
    from ..derive import table

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
    from ..declare import REGISTRY
    from ..derive.build import regime_texts

    return [tuple(r) for r in regime_texts(REGISTRY.get(s.name), keep, ev.mode, structure.get(s.per))]


def cmd_solve(args: argparse.Namespace) -> str:
    from ..derive import table

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
        lines.append(f"  value:       {value:.4g} {s.unit_short}  ({_where(ev)})")
    return "\n".join(lines)


def _latex(name: str, ev, structure: dict[str, str]) -> str:
    """``symbol = closed form`` in LaTeX for the structure (and pins) of the answer."""
    from ..derive import table

    s = table().get(name)
    pins = ev.pins if ev is not None else frozenset()
    if not s.per and not (s.opened & pins):
        return s.latex["bound"]
    import sympy

    from ..declare import REGISTRY, formula, shown
    from ..declare.quantity import symbol_names
    from ..derive.lower import resolve

    expr = shown(resolve(formula(REGISTRY.get(name), frozenset(s.opened & pins), "bound"), structure))
    return f"{s.display} = {sympy.latex(expr, symbol_names=symbol_names())}"


def cmd_sensitivity(args: argparse.Namespace) -> str:
    from ..derive import table
    from ..sensitivity import active_bounds, elasticities

    s = table().get(args.quantity)
    ev = operating_point(args, s.name)
    if s.name in ev.unavailable:
        raise InputError(f"{s.name} is unavailable: {ev.unavailable[s.name]}")
    found = elasticities(ev, s.name)
    bounds = active_bounds(ev, s.name)
    warn(ev.warnings())
    if args.format == "json":
        return json.dumps({
            "model": ev.model.id, "hardware": ev.hardware.id, "quantity": s.name,
            "value": float(ev.magnitude(s.name)), "unit": s.unit_text,
            "elasticities": {e.wrt: e.value for e in found},
            "bounds": [{"quantity": b.quantity, "kind": b.kind, "active": b.active, "unit": b.unit,
                        "branches": dict(b.branches)} for b in bounds],
            "feasible": ev.feasible, "infeasible": ev.infeasible()}, indent=2)
    lines = [f"{s.name} = {ev.magnitude(s.name):.6g} {s.unit_short}  ({_where(ev)})",
             "elasticity d ln y / d ln x (1% more x changes y by about this many %):"]
    lines += [f"  {e.wrt:<28} {e.value:+.4f}" for e in found]
    for b in bounds:
        parts = ", ".join(f"{n} = {v:.4g}" for n, v in b.branches)
        lines.append(f"active bound in {b.quantity}: {b.active}  ({b.kind} of {parts} {b.unit})")
    return "\n".join(lines)


def register(sub) -> None:
    """Add this module's commands to the parser."""
    p = sub.add_parser("solve", help="show a threshold's equation, closed form, regime and value",
                       description="Show how a threshold is solved; with MODEL HARDWARE (or one of them when "
                                   "the threshold does not depend on the other) also its value.")
    p.add_argument("name", metavar="NAME", help="a solved threshold, e.g. critical_batch_size")
    p.add_argument("model", metavar="MODEL", nargs="?")
    p.add_argument("hardware", metavar="HARDWARE", nargs="?")
    add_set(p)
    p.add_argument("--format", choices=["text", "latex", "json"], default="text")
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("sensitivity", help="elasticities of a quantity and the active bound",
                       description="Elasticities d ln y / d ln x of QUANTITY with respect to every input, "
                                   "largest first, and which branch of each max() is active.")
    p.add_argument("quantity", metavar="QUANTITY")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("hardware", metavar="HARDWARE")
    add_set(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_sensitivity)
