"""solve and sensitivity: closed-form thresholds and elasticities."""

from __future__ import annotations

import argparse
import json

import sympy

from ..errors import InputError
from ..quantity import REGISTRY, shown
from ..sensitivity import active_bounds, elasticities
from ..solve import regimes
from ..units import unit_text
from .common import add_set, equation_text, operating_point


def cmd_solve(args: argparse.Namespace) -> str:
    q = REGISTRY.get(args.name)
    if q.derivation is None:
        solved_names = ", ".join(x.name for x in REGISTRY if x.derivation is not None)
        raise InputError(f"{q.name} is not a solved threshold; solved ones: {solved_names}")
    ev = operating_point(args, q)
    found = regimes(q.derivation, q.unknown)
    value = None
    if ev is not None:
        if q.name in ev.unavailable:
            raise InputError(f"{q.name} is unavailable: {ev.unavailable[q.name]}")
        value = ev.magnitude(q.name)
    names = {x.symbol: x.display for x in REGISTRY}
    if args.format == "json":
        entry = {"value": value, "unit": unit_text(q.unit), "kind": "derived", "formula": q.formula_text(),
                 "source": q.source, "closed_form": q.formula_text(), "equation": equation_text(q),
                 "regime": q.regime,
                 "regimes": [{"closed_form": sympy.sstr(shown(r.root)), "holds_when": r.text} for r in found]}
        return json.dumps({"model": ev.model.id if ev else None, "hardware": ev.hardware.id if ev else None,
                           "quantities": {q.name: entry}}, indent=2)
    if args.format == "latex":
        eq = q.derivation
        lines = [f"{sympy.latex(eq.lhs, symbol_names=names)} = {sympy.latex(eq.rhs, symbol_names=names)}",
                 q.latex()]
        if value is not None:
            lines.append(rf"{q.display} = {value:.4g}\ \text{{{q.unit:~P}}}")
        return "\n".join(lines)
    lines = [f"{q.name}: {q.description}",
             f"  from:        {equation_text(q)}",
             f"  closed form: {q.name} = {q.formula_text()}",
             f"  holds when:  {q.regime}"]
    if len(found) > 1:
        for r in found:
            lines.append(f"  regime:      {sympy.sstr(shown(r.root))}  when {r.text}")
    if ev is not None:
        lines.append(f"  value:       {value:.4g} {q.unit:~P}  ({ev.model.id} on {ev.hardware.id})")
    return "\n".join(lines)


def cmd_sensitivity(args: argparse.Namespace) -> str:
    q = REGISTRY.get(args.quantity)
    ev = operating_point(args, q)
    if q.name in ev.unavailable:
        raise InputError(f"{q.name} is unavailable: {ev.unavailable[q.name]}")
    found = elasticities(ev, q.name)
    bounds = active_bounds(ev, q.name)
    if args.format == "json":
        return json.dumps({
            "model": ev.model.id, "hardware": ev.hardware.id, "quantity": q.name,
            "value": float(ev.magnitude(q.name)), "unit": unit_text(q.unit),
            "elasticities": {e.wrt: e.value for e in found},
            "bounds": [{"quantity": b.quantity, "kind": b.kind, "active": b.active, "unit": b.unit,
                        "branches": dict(b.branches)} for b in bounds]}, indent=2)
    lines = [f"{q.name} = {ev.magnitude(q.name):.6g} {q.unit:~P}  ({ev.model.id} on {ev.hardware.id})",
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
