"""sensitivity: exact elasticities of a quantity and the active branch of each max() (sympy)."""

from __future__ import annotations

import argparse
import json

from ..core.errors import InputError
from ..derive import table
from ..sensitivity import active_bounds, elasticities
from .common import operating_point, warn
from .thresholds import where_text


def cmd_sensitivity(args: argparse.Namespace) -> str:
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
    lines = [f"{s.name} = {ev.magnitude(s.name):.6g} {s.unit_short}  ({where_text(ev)})",
             "elasticity d ln y / d ln x (1% more x changes y by about this many %):"]
    lines += [f"  {e.wrt:<28} {e.value:+.4f}" for e in found]
    for b in bounds:
        parts = ", ".join(f"{n} = {v:.4g}" for n, v in b.branches)
        lines.append(f"active bound in {b.quantity}: {b.active}  ({b.kind} of {parts} {b.unit})")
    return "\n".join(lines)
