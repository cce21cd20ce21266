"""serve: what a serving engine delivers for a workload, the idealised engine and the profiled one side by side."""

from __future__ import annotations

import argparse
import csv
import io
import json

from ..core.errors import InputError
from ..max_rate import METRICS, Limit, MaxRate, limit, max_rate, parse_limits
from ..replay import NAMES, Benchmark, read_lengths, request_count
from ..serve import MODES, OUTPUTS, ROWS, Served, serve
from .common import fmt, mode_of, parse_sets, wrapped
from .render import number, quantity, sections, value_text


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
    if not (getattr(args, "replay", False) or getattr(args, "max_rate", False)):
        named = [o for o, v in given.items() if v is not None]
        if named:
            raise InputError(f"{named[0]} needs --replay (or --max-rate): the closed form runs no benchmark")
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
    load = {"concurrency": lambda: f"{number(ev.magnitude('concurrency'))} users (closed loop)",
            "rate": lambda: f"{quantity(ev.magnitude('request_rate'), ev.spec('request_rate').unit_text)} "
                            "(open loop)",
            "static": lambda: f"one static batch of {number(ev.magnitude('batch_size'))}",
            "max": lambda: "maximum load (as many as the engine admits)"}[work["workload"]]()
    lines = [f"{ev.model.name} on {ev.hardware.name}: {number(ev.magnitude('input_length'))} in, "
             f"{number(ev.magnitude('output_length'))} out, {load}",
             f"bound: the idealised engine (no overheads, no caps but HBM); estimate: {result.engine} profile, "
             f"{ev.calibration.name if ev.calibration is not None else 'no calibration'}", ""]
    parts = [(title, [(name, *(value_text(result.evaluations[m], name) for m in ("bound", "estimate")))
                      for name in names if name in ev.table.specs]) for title, names in ROWS]
    if result.replays:
        values = {mode: r.readings() for mode, r in result.replays.items()}
        parts.append((f"Replay: {result.replays['estimate'].description}",
                      [(name, *(quantity(values[m][name][0], values[m][name][1]) for m in ("bound", "estimate")))
                       for name in NAMES]))
    lines += sections(parts, ("left", "right", "right"), headers=("", "bound", "estimate"))
    lines.append("")
    lines.append(f"binding cap: bound {result.binding('bound')}, estimate {result.binding('estimate')}")
    for mode in MODES:
        for note in result.notes.get(mode, []):
            lines.append(wrapped(f"{mode}: {note}"))
    said = {mode: result.evaluations[mode].warnings() for mode in MODES}  # what the JSON's "warnings" hold
    for w in dict.fromkeys(w for mode in MODES for w in said[mode]):
        both = all(w in said[m] for m in MODES)
        lines.append(wrapped(f"warning{'' if both else ' (' + next(m for m in MODES if w in said[m]) + ')'}: {w}"))
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
    if getattr(args, "max_rate", False) or getattr(args, "limits", None):
        return cmd_max_rate(args)
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


def limits_of(args: argparse.Namespace) -> tuple[Limit, ...]:
    """The --ttft-pNN and --tpot-pNN limits (``--tpot-percentile P --tpot T`` in the order given), each once."""
    out, pending = [], {}
    for option, value in args.limits or []:
        metric = option.strip("-").split("-")[0]
        if option.endswith("-percentile"):
            if metric in pending:
                raise InputError(f"{option} {pending[metric]} and {value}: give each percentile with its limit, like "
                                 f"--{metric}-p99 {'2s' if metric == 'ttft' else '200ms'}")
            pending[metric] = value
        elif metric not in pending:
            raise InputError(f"{option} {value}: say the percentile the limit holds at, like --{metric}-p99 {value}")
        else:
            out.append(limit(metric, pending.pop(metric), value))
    for metric, p in pending.items():
        raise InputError(f"--{metric}-percentile {p} without a limit: give --{metric}-p{p} T")
    if not getattr(args, "max_rate", False):
        raise InputError(f"{out[0].option if out else '--' + next(iter(pending), 'ttft') + '-pNN'} needs --max-rate: "
                         "a limit is met by searching the request rate (serve --max-rate --ttft-p99 2s)")
    return parse_limits(out)


def searched(args: argparse.Namespace) -> MaxRate:
    """The highest request rate meeting the options' limits, in both modes."""
    given = limits_of(args)
    for option in ("rate", "concurrency", "batch"):
        if getattr(args, option, None) is not None:
            raise InputError(f"--max-rate with --{option}: the search sets an open loop's rate itself; leave "
                             f"--{option} out")
    if getattr(args, "replay", False):
        raise InputError("--max-rate with --replay: the search replays every rate it tries; leave --replay out")
    _, calibration = mode_of(args)
    requests = request_count(args.requests) if args.requests is not None else None
    return max_rate(args.model, args.hardware, args.input, args.output, given, overrides=parse_sets(args.set),
                    engine=args.engine, calibration=calibration, requests=requests, benchmark=benchmark(args))


def _rows(result: MaxRate) -> list[tuple[str | None, str, dict[str, str], str]]:
    """(section, name, {mode: cell}, unit) of what the answer shows."""
    found = result.found
    replays = {mode: f.replayed for mode, f in found.items()}
    read = {mode: r.readings() for mode, r in replays.items()}
    units = found["bound"].replayed.units
    rows: list[tuple[str | None, str, dict[str, str], str]] = []

    def add(section, name, cells, unit):
        rows.append((section, name, cells, unit))

    factor, _, unit = units["request_throughput"]
    add("Highest rate meeting every limit", "max_request_rate",
        {m: fmt(f.rate / factor) for m, f in found.items()}, unit)
    names = ["replay_request_throughput", "replay_output_throughput", "replay_output_throughput_per_chip"]
    for name in names:
        add(None, name, {m: fmt(read[m][name][0]) for m in found}, read["bound"][name][2])
    add("At that rate (replayed)", "", {}, "")
    for metric in ("ttft", "itl"):  # p50, p90, p99 and every percentile a limit names
        f, _, u = units[metric]
        for p in sorted({50.0, 90.0, 99.0} | {x.percentile for x in result.limits if METRICS[x.metric] == metric}):
            add(None, f"{metric}_p{p:g}", {m: fmt(r.summary(metric, f"p{p:g}") / f) for m, r in replays.items()}, u)
    for name in ("e2e_latency_p99", "replay_running_batch", "replay_preemptions"):
        add(None, name, {m: fmt(read[m][name][0]) for m in found}, read["bound"][name][2])
    add("Search", "saturation_request_rate", {m: fmt(f.saturation) for m, f in found.items()}, unit)
    if result.itl_rate:
        add(None, "max_request_rate_for_itl", {m: fmt(result.itl_rate[m]) for m in found}, unit)
    add(None, "first_rate_tried", {m: fmt(f.first) for m, f in found.items()}, unit)
    add(None, "replays", {m: str(f.tried) for m, f in found.items()}, "")
    for metric in sorted({x.metric for x in result.limits}):
        add(None, f"{metric}_of_one_request_alone", {m: fmt(a[metric] * 1e3) for m, a in result.alone.items()},
            "ms")
    return rows


def render_max_rate(result: MaxRate) -> str:
    stated = ", ".join(f"{x.metric.upper()} p{x.percentile:g} <= {x.text}" for x in result.limits)
    bench = result.found["bound"].replayed
    lines = [f"{result.model} on {result.hardware}: {fmt(result.input_length)} in, {fmt(result.output_length)} out, "
             f"{result.engine}: the highest open-loop request rate meeting {stated}",
             "TPOT is vLLM's per request: (e2e - TTFT) / (output - 1); bound: the idealised engine, estimate: the "
             "engine profile and the chip's calibration",
             "", f"  {'':<34} {'bound':>12} {'estimate':>12}  unit"]
    for section, name, cells, unit in _rows(result):
        if section:
            lines.append(section)
        if name:
            lines.append(f"  {name:<34} {cells['bound']:>12} {cells['estimate']:>12}  {unit}")
    b = result.benchmark
    how = f"{b.arrivals} arrivals" + (f", lengths spread {b.spread:g}" if b.spread else "")
    lines += ["", wrapped(f"search: bisection over replays of {len(bench.inputs):,} requests ({how}, seed {b.seed}) "
                          f"until the next rate up, at most {result.tolerance:.0%} higher, misses a limit")]
    for mode in MODES:
        for note in result.notes(mode):
            lines.append(wrapped(f"{mode}: {note}"))
    return "\n".join(lines)


def cmd_max_rate(args: argparse.Namespace) -> str:
    result = searched(args)
    if args.format == "json":
        return json.dumps(result.to_dict(), indent=2)
    if args.format == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["name", "bound", "estimate", "unit"])
        for _, name, cells, unit in _rows(result):
            if name:
                writer.writerow([name, cells["bound"], cells["estimate"], unit])
        return buf.getvalue().rstrip("\n")
    return render_max_rate(result)
