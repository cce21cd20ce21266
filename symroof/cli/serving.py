"""serve: what a serving engine delivers for a workload, the idealised engine and the profiled one side by side."""

from __future__ import annotations

import argparse
import csv
import io
import json

from ..core.errors import InputError
from ..replay import NAMES, Benchmark, read_lengths
from ..serve import MODES, OUTPUTS, ROWS, Served, serve
from .common import fmt, mode_of, parse_sets, wrapped


def served(args: argparse.Namespace) -> tuple[Served, str]:
    """The workload the options describe, served; and the mode whose JSON is the top level."""
    mode, calibration = mode_of(args)
    out = serve(args.model, args.hardware, args.input, args.output, concurrency=args.concurrency, rate=args.rate,
                batch=args.batch, engine=args.engine, calibration=calibration, overrides=parse_sets(args.set),
                replay=benchmark(args), requests=getattr(args, "requests", None))
    return out, mode


def benchmark(args: argparse.Namespace) -> Benchmark | bool:
    """The replay's benchmark the options describe (False without --replay; its options alone are refused)."""
    given = {o: getattr(args, o.strip("-"), None) for o in ("--spread", "--lengths", "--seed", "--arrivals")}
    if not getattr(args, "replay", False):
        named = [o for o, v in given.items() if v is not None]
        if named:
            raise InputError(f"{named[0]} needs --replay: the closed form runs no benchmark")
        return False
    out = Benchmark()
    if given["--spread"] is not None:
        try:
            out.spread = float(given["--spread"])
        except ValueError:
            raise InputError(f"--spread {given['--spread']!r}: give the lengths' spread as a ratio, like 0.2") from None
    if given["--lengths"] is not None:
        out.lengths = read_lengths(given["--lengths"])
    if given["--seed"] is not None:
        try:
            out.seed = int(given["--seed"])
        except ValueError:
            raise InputError(f"--seed {given['--seed']!r}: give a whole number, like 0") from None
    out.arrivals = given["--arrivals"] or out.arrivals
    return out


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
    if result.replays:
        lines.append(f"Replay: {result.replays['estimate'].description}")
        values = {mode: r.readings() for mode, r in result.replays.items()}
        for name in NAMES:
            lines.append(f"  {name:<34} {fmt(values['bound'][name][0]):>12} {fmt(values['estimate'][name][0]):>12}"
                         f"  {values['bound'][name][2]}")
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
    if result.replays:
        values = {mode: r.readings() for mode, r in result.replays.items()}
        for name in NAMES:
            writer.writerow([name, fmt(values["bound"][name][0]), fmt(values["estimate"][name][0]),
                             values["bound"][name][1]])
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
