"""sensitivity: exact elasticities of a quantity and the active branch of each max() (sympy)."""

from __future__ import annotations

import argparse
import json
import math

from ..core.errors import InputError
from ..derive import table
from ..sensitivity import active_bounds, elasticities
from .common import operating_point, warn
from .thresholds import where_text

#: Quantities that describe experts: on a dense model they have no derivative worth printing.
_MOE_ONLY = frozenset({"expected_experts_touched", "expert_miss_probability", "serve_experts_loaded"})


def cmd_sensitivity(args: argparse.Namespace) -> str:
    s = table().get(args.quantity)
    ev = operating_point(args, s.name)
    if s.name in ev.unavailable:
        raise InputError(f"{s.name} is unavailable: {ev.unavailable[s.name]}")
    if s.boolean or s.categorical:
        raise InputError(f"{s.name} is a {'yes/no' if s.boolean else 'choice'} quantity: it has no elasticities; "
                         "ask for a number it depends on")
    value = ev.magnitude(s.name)
    if not math.isfinite(float(value)):
        raise InputError(f"{s.name} has no value for {ev.model.id} on {ev.hardware.id} (it is {value}), so it "
                         "has no elasticities")
    found = elasticities(ev, s.name)
    if found and all(not math.isfinite(e.value) for e in found):
        kind = "dense" if ev.magnitude("mlp") == "dense" and s.name in _MOE_ONLY else "such that"
        raise InputError(f"{s.name} has no elasticities for {ev.model.id} on {ev.hardware.id}"
                         + (f": {ev.model.id} is dense (it has no experts)" if kind == "dense" else
                            ": every derivative is undefined at this point"))
    found = [e for e in found if math.isfinite(e.value)]
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
