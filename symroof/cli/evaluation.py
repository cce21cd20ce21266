"""list, eval and explain: the declared model, evaluated and explained."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys

from .. import catalog
from ..evaluate import Evaluation, parse_overrides
from ..model import GROUPS
from ..quantity import REGISTRY
from ..units import unit_text
from .common import add_set, equation_text, fmt, parse_sets, short_unit


def render_table(ev: Evaluation) -> str:
    """The evaluation as an aligned text table, one section per group."""
    lines = [f"{ev.model.name} on {ev.hardware.name}"]
    shown = set(ev.names())
    for group in GROUPS:
        rows = [q for q in REGISTRY if q.group == group.name and (q.name in shown or q.name in ev.unavailable)]
        if not rows:
            continue
        lines.append("")
        lines.append(group.title)
        for q in rows:
            if q.name in ev.unavailable:
                lines.append(f"  {q.name:<38} {'n/a':>14}  {'':<14}  {ev.unavailable[q.name]}")
                continue
            note = q.formula_text() if ev.kind(q.name) == "derived" else ev.origin[q.name]
            lines.append(f"  {q.name:<38} {fmt(ev.magnitude(q.name)):>14}  {short_unit(q):<14}  {note}")
    for w in ev.warnings():
        lines.append(f"\nwarning: {w}")
    return "\n".join(lines)


def render_csv(ev: Evaluation) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "value", "unit", "kind", "source"])
    for name in ev.names():
        q = REGISTRY.get(name)
        writer.writerow([name, fmt(ev.magnitude(name)), unit_text(q.unit), ev.kind(name), ev.source(name)])
    return buf.getvalue().rstrip("\n")


def cmd_list(args: argparse.Namespace) -> str:
    if args.what == "quantities":
        rows = [q for q in REGISTRY if q.kind != "constant"]
        if args.format == "json":
            return json.dumps([{"name": q.name, "kind": q.kind, "unit": unit_text(q.unit), "group": q.group,
                                "description": q.description} for q in rows], indent=2)
        return "\n".join(f"{q.name:<38} {q.kind:<8} {short_unit(q):<14} {q.group:<12} {q.description}"
                         for q in rows)
    kind = "model" if args.what == "models" else "hardware"
    entries = [catalog.load(kind, i) for i in catalog.ids(kind)]
    if args.format == "json":
        return json.dumps([{"id": e.id, "name": e.name} for e in entries], indent=2)
    return "\n".join(f"{e.id:<14} {e.name}" for e in entries)


def cmd_eval(args: argparse.Namespace) -> str:
    model = catalog.load("model", args.model)
    hardware = catalog.load("hardware", args.hardware)
    ev = Evaluation(model, hardware, parse_overrides(parse_sets(args.set), "--set "))
    if args.format == "json":
        return json.dumps(ev.to_dict(), indent=2)
    if args.format == "csv":
        for w in ev.warnings():
            print(f"symroof: warning: {w}", file=sys.stderr)
        return render_csv(ev)
    return render_table(ev)


def cmd_explain(args: argparse.Namespace) -> str:
    q = REGISTRY.get(args.name)
    users = [u.name for u in REGISTRY if q in u.dependencies]
    lines = [
        f"{q.name} ({q.kind}, {q.group})",
        f"  {q.description}",
        f"  unit:       {unit_text(q.unit) or 'dimensionless'}",
        f"  symbol:     {q.display}",
        f"  source:     {q.source}",
    ]
    if q.categorical:
        lines.append(f"  choices:    {', '.join(q.choices)} (default {q.default_choice})")
    if q.expr is not None:
        label = "formula" if q.kind == "derived" else "default"
        lines.append(f"  {label + ':':<11} {q.name} = {q.formula_text()}")
        lines.append(f"  latex:      {q.latex()}")
        lines.append(f"  depends on: {', '.join(d.name for d in q.dependencies if d.kind != 'constant')}")
    if q.derivation is not None:
        lines.append(f"  solved:     {equation_text(q)}")
    if q.regime:
        lines.append(f"  holds when: {q.regime}")
    if users:
        lines.append(f"  used by:    {', '.join(users)}")
    return "\n".join(lines)


def register(sub) -> None:
    """Add this module's commands to the parser."""
    p = sub.add_parser("list", help="list catalog models, hardware, or every quantity")
    p.add_argument("what", choices=["models", "hardware", "quantities"])
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("eval", help="evaluate every quantity for a model on a chip",
                       description="Evaluate every quantity for MODEL on HARDWARE (catalog ids or TOML paths).")
    p.add_argument("model", metavar="MODEL", help="catalog id (llama-3-70b) or path to a model TOML")
    p.add_argument("hardware", metavar="HARDWARE", help="catalog id (tpu-v5e) or path to a hardware TOML")
    add_set(p)
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("explain", help="show a quantity's formula, unit, source and dependencies")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_explain)
