"""list, eval and explain: the declared model, evaluated and explained."""

from __future__ import annotations

import argparse
import csv
import io
import json

from .common import add_set, evaluation, fmt, load_pair, warn


def render_table(ev) -> str:
    """The evaluation as an aligned text table, one section per group."""
    title = f"{ev.model.name} on {ev.hardware.name}"
    if ev.mode != "bound":
        title += f" (estimate: {ev.calibration.name if ev.calibration is not None else 'no calibration'})"
    lines = [title]
    shown = set(ev.names())
    marked = set(ev.infeasible_quantities())
    for group, group_title in ev.table.groups:
        rows = [s for s in ev.table if s.group == group and (s.name in shown or s.name in ev.unavailable)]
        if not rows:
            continue
        lines.append("")
        lines.append(group_title)
        for s in rows:
            if s.name in ev.unavailable:
                lines.append(f"  {s.name:<38} {'n/a':>14}  {'':<14}  {ev.unavailable[s.name]}")
                continue
            value = ev.magnitude(s.name)
            shown_value = ("yes" if value else "no") if s.boolean else fmt(value)
            note = ev.formula_text(s.name) if ev.kind(s.name) == "derived" else str(ev.provenance[s.name])
            if s.name in marked:
                note = f"NOT FEASIBLE (does not fit in HBM); {note}"
            lines.append(f"  {s.name:<38} {shown_value:>14}  {s.unit_short:<14}  {note}")
    from ..notes import notes

    for n in notes(ev):
        lines.append(f"\nnote: {n}")
    for w in ev.warnings():
        lines.append(f"\nwarning: {w}")
    return "\n".join(lines)


def render_csv(ev) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "value", "unit", "kind", "source"])
    for name in ev.names():
        writer.writerow([name, fmt(ev.magnitude(name)), ev.table.specs[name].unit_text, ev.kind(name),
                         ev.source(name)])
    return buf.getvalue().rstrip("\n")


def cmd_list(args: argparse.Namespace) -> str:
    from .. import catalog
    from ..derive import table

    if args.what == "quantities":
        rows = [s for s in table() if s.kind != "constant"]
        if args.format == "json":
            return json.dumps([{"name": s.name, "kind": s.kind, "unit": s.unit_text, "group": s.group,
                                "description": s.description} for s in rows], indent=2)
        return "\n".join(f"{s.name:<38} {s.kind:<8} {s.unit_short:<14} {s.group:<12} {s.description}" for s in rows)
    kind = "model" if args.what == "models" else "hardware"
    entries = [catalog.load(kind, i) for i in catalog.ids(kind)]
    if args.format == "json":
        return json.dumps([{"id": e.id, "name": e.name} for e in entries], indent=2)
    return "\n".join(f"{e.id:<14} {e.name}" for e in entries)


def cmd_eval(args: argparse.Namespace) -> str:
    model, hardware = load_pair(args.model, args.hardware)
    ev = evaluation(model, hardware, args)
    if args.format == "json":
        from ..notes import notes

        return json.dumps({**ev.to_dict(), "notes": notes(ev)}, indent=2)
    if args.format == "csv":
        warn(ev.warnings())
        return render_csv(ev)
    return render_table(ev)


def cmd_explain(args: argparse.Namespace) -> str:
    from ..derive import table

    s = table().get(args.name)
    lines = [
        f"{s.name} ({s.kind}, {s.group})",
        f"  {s.description}",
        f"  unit:       {s.unit_text or 'dimensionless'}",
        f"  symbol:     {s.display}",
        f"  source:     {s.source}",
    ]
    if s.categorical:
        lines.append(f"  choices:    {', '.join(s.choices)} (default {s.default_choice})")
    if s.kind == "derived":
        lines.append(f"  formula:    {s.name} = {s.formula_text()}")
        if s.formula_text("estimate") != s.formula_text():
            lines.append(f"  estimate:   {s.name} = {s.formula_text('estimate')}")
        lines.append(f"  latex:      {s.latex['bound']}")
    elif s.default_text is not None:
        lines.append(f"  default:    {s.name} = {s.default_text}")
        if s.has_rule:
            lines.append(f"  latex:      {s.latex['bound']}")
    if s.neutral is not None:
        lines.append(f"  bound mode: {s.neutral:g} (an estimate factor)")
    if s.deps:
        lines.append(f"  depends on: {', '.join(s.deps)}")
    if s.equation is not None:
        lines.append(f"  solved:     {s.equation}")
    if s.regime:
        lines.append(f"  holds when: {s.regime}")
    if s.users:
        lines.append(f"  used by:    {', '.join(s.users)}")
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
