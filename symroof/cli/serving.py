"""serve: what a serving engine delivers for a workload, the idealised engine and the profiled one side by side."""

from __future__ import annotations

import argparse
import csv
import io
import json

from ..core.errors import InputError
from ..serve import MODES, OUTPUTS, ROWS, Served, serve
from .common import fmt, mode_of, parse_sets, wrapped


def served(args: argparse.Namespace) -> tuple[Served, str]:
    """The workload the options describe, served; and the mode whose JSON is the top level."""
    mode, calibration = mode_of(args)
    out = serve(args.model, args.hardware, args.input, args.output, concurrency=args.concurrency, rate=args.rate,
                batch=args.batch, engine=args.engine, calibration=calibration, overrides=parse_sets(args.set))
    return out, mode


def _cell(result: Served, name: str, mode: str) -> str:
    ev = result.evaluations[mode]
    if name in ev.unavailable or name not in ev.base:
        return "n/a"
    value = ev.magnitude(name)
    return ("yes" if value else "no") if ev.spec(name).boolean else fmt(value)


def render_table(result: Served) -> str:
    ev = result.evaluations["estimate"]
    work = result.workload
    load = {"concurrency": lambda: f"{fmt(ev.magnitude('concurrency'))} users (closed loop)",
            "rate": lambda: f"{fmt(ev.magnitude('request_rate'))} requests/s (open loop)",
            "static": lambda: f"one static batch of {fmt(ev.magnitude('batch_size'))}",
            "max": lambda: "maximum load (as many as the engine admits)"}[work["workload"]]()
    lines = [f"{ev.model.name} on {ev.hardware.name}: {fmt(ev.magnitude('input_length'))} in, "
             f"{fmt(ev.magnitude('output_length'))} out, {load}",
             f"bound: the idealised engine (no overheads, no caps but HBM); estimate: {result.engine} profile, "
             f"{ev.calibration.name if ev.calibration is not None else 'no calibration'}",
             "", f"  {'':<34} {'bound':>12} {'estimate':>12}  unit"]
    for title, names in ROWS:
        lines.append(title)
        for name in names:
            if name not in ev.table.specs:
                continue
            lines.append(f"  {name:<34} {_cell(result, name, 'bound'):>12} {_cell(result, name, 'estimate'):>12}"
                         f"  {ev.spec(name).unit_short}")
    lines.append("")
    lines.append(f"binding cap: bound {result.binding('bound')}, estimate {result.binding('estimate')}")
    for mode in MODES:
        for note in result.notes.get(mode, []):
            lines.append(wrapped(f"{mode}: {note}"))
    return "\n".join(lines)


def render_csv(result: Served) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "bound", "estimate", "unit"])
    for name in OUTPUTS:
        writer.writerow([name, _cell(result, name, "bound"), _cell(result, name, "estimate"),
                         result.evaluations["bound"].spec(name).unit_text])
    return buf.getvalue().rstrip("\n")


def cmd_serve(args: argparse.Namespace) -> str:
    result, mode = served(args)
    if args.format == "json":
        out = result.to_dict(mode)
        other = "bound" if mode == "estimate" else "estimate"
        out[other] = {"quantities": result.to_dict(other)["quantities"], "serve": result.to_dict(other)["serve"]}
        return json.dumps(out, indent=2)
    for m in MODES:  # a table of latencies that grow without bound is no answer; JSON says "overloaded"
        if result.overloaded(m):
            raise InputError(f"{m}: {result.verdict(m)}")
    if args.format == "csv":
        return render_csv(result)
    return render_table(result)
