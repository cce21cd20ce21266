"""The ``symroof`` command line.

Every error a user can cause prints one line naming what is wrong and exits
with status 2; nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy
import sympy

from . import catalog
from .errors import InputError, SymroofError
from .evaluate import Evaluation, parse_overrides
from .model import GROUPS
from .quantity import REGISTRY, shown
from .sensitivity import active_bounds, elasticities
from .solve import regimes
from .symbolic import reachable
from .units import unit_text

EPILOG = """examples:
  symroof eval llama-3-70b tpu-v5e
  symroof eval llama-3-70b tpu-v5e --set batch_size=32 --set weight_dtype=int8 --set "hbm_bandwidth=820 GB/s"
  symroof explain step_time
  symroof solve critical_batch_size tpu-v5e
  symroof sensitivity cost_per_million_tokens llama-3-70b tpu-v5e
  symroof export llama-3-70b tpu-v5e --template finance --set chip_price=1.0
  symroof sweep llama-3-70b tpu-v5e --vary batch_size=1:512 --vary context_length=2048,8192,32768
  symroof plot frontier -o frontier.png
  symroof list hardware
"""


def parse_sets(items: Sequence[str] | None) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` as a dict, refusing malformed items."""
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise InputError(f"--set {item!r}: expected NAME=VALUE, like batch_size=32")
        REGISTRY.get(name)
        out[name] = value
    return out


def _short_unit(q) -> str:
    return f"{q.unit:~P}" if unit_text(q.unit) else ""


def _fmt(value) -> str:
    return value if isinstance(value, str) else f"{value:.6g}"


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
            lines.append(f"  {q.name:<38} {_fmt(ev.magnitude(q.name)):>14}  {_short_unit(q):<14}  {note}")
    for w in ev.warnings():
        lines.append(f"\nwarning: {w}")
    return "\n".join(lines)


def render_csv(ev: Evaluation) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "value", "unit", "kind", "source"])
    for name in ev.names():
        q = REGISTRY.get(name)
        writer.writerow([name, _fmt(ev.magnitude(name)), unit_text(q.unit), ev.kind(name), ev.source(name)])
    return buf.getvalue().rstrip("\n")


def cmd_list(args: argparse.Namespace) -> str:
    if args.what == "quantities":
        rows = [q for q in REGISTRY if q.kind != "constant"]
        if args.format == "json":
            return json.dumps([{"name": q.name, "kind": q.kind, "unit": unit_text(q.unit), "group": q.group,
                                "description": q.description} for q in rows], indent=2)
        return "\n".join(f"{q.name:<38} {q.kind:<8} {_short_unit(q):<14} {q.group:<12} {q.description}"
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


def equation_text(q) -> str:
    """``lhs = rhs, solved for x`` of a solved quantity."""
    eq = q.derivation
    return f"{sympy.sstr(shown(eq.lhs))} = {sympy.sstr(shown(eq.rhs))}, solved for {q.unknown}"


def _operating_point(args: argparse.Namespace, q) -> Evaluation | None:
    """The evaluation for ``solve``/``sensitivity``: MODEL HARDWARE, or one of them with the seed's other."""
    refs = [r for r in (args.model, args.hardware) if r]
    if not refs:
        return None
    if len(refs) == 2:
        model, hardware = catalog.load("model", refs[0]), catalog.load("hardware", refs[1])
    else:
        ref = refs[0]
        if ref in catalog.ids("model"):
            kind, other = "hardware", "tpu-v5e"
        elif ref in catalog.ids("hardware") or ref.endswith(".toml"):
            kind, other = "model", "llama-3-70b"
        else:
            raise InputError(f"{ref!r} is neither a catalog model nor a chip; give MODEL HARDWARE")
        needs = {d for d in reachable({q.symbol}) if REGISTRY.get(d).group == kind}
        if needs:
            raise InputError(f"{q.name} depends on the {kind} ({', '.join(sorted(needs))}): give MODEL HARDWARE")
        loaded = {kind: catalog.load(kind, other), ("model" if kind == "hardware" else "hardware"):
                  catalog.load("model" if kind == "hardware" else "hardware", ref)}
        model, hardware = loaded["model"], loaded["hardware"]
    return Evaluation(model, hardware, parse_overrides(parse_sets(args.set), "--set "))


def cmd_solve(args: argparse.Namespace) -> str:
    q = REGISTRY.get(args.name)
    if q.derivation is None:
        solved_names = ", ".join(x.name for x in REGISTRY if x.derivation is not None)
        raise InputError(f"{q.name} is not a solved threshold; solved ones: {solved_names}")
    ev = _operating_point(args, q)
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
    ev = _operating_point(args, q)
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


def cmd_export(args: argparse.Namespace) -> str:
    from .workbook import export as workbook_export

    if args.all:
        if args.model or args.hardware or args.set or args.template != "engineering" or args.keep_inputs:
            raise InputError("--all exports the featured pairs with their defaults; give no MODEL, HARDWARE, "
                             "--set, --template or --keep-inputs with it")
        paths = workbook_export.export_all(args.output or "sheets", progress=_progress(args))
        return "\n".join(str(p) for p in paths)
    if not (args.model and args.hardware):
        raise InputError("give MODEL HARDWARE, or --all")
    path = workbook_export.export(args.model, args.hardware, args.template, parse_sets(args.set), args.output,
                                  force=args.force, keep_inputs=args.keep_inputs)
    return str(path)


def _progress(args: argparse.Namespace):
    """A progress line on a terminal after a second; silent when not on one, or with --quiet."""
    from .sweep import Progress

    return Progress(sys.stderr, not args.quiet)


def parse_vary(items: Sequence[str] | None) -> dict[str, list]:
    """``--vary NAME=SPEC``: SPEC is a comma list of values (with units if wanted, or dtype names) and
    inclusive ranges ``a:b`` or ``a:b:step``."""
    out: dict[str, list] = {}
    for item in items or []:
        name, sep, spec = item.partition("=")
        name, spec = name.strip(), spec.strip()
        if not sep or not name or not spec:
            raise InputError(f"--vary {item!r}: expected NAME=VALUES, like batch_size=1:512 or "
                             "context_length=2048,8192")
        q = REGISTRY.get(name)
        values: list = []
        for part in spec.split(","):
            part = part.strip()
            if ":" in part and not q.categorical:
                bounds = part.split(":")
                try:
                    numbers = [float(b) for b in bounds]
                except ValueError:
                    raise InputError(f"--vary {name}: {part!r} is not a range a:b or a:b:step") from None
                if len(numbers) not in (2, 3) or (len(numbers) == 3 and numbers[2] <= 0):
                    raise InputError(f"--vary {name}: {part!r} is not a range a:b or a:b:step")
                start, stop, step = numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else 1.0
                if stop < start:
                    raise InputError(f"--vary {name}: the range {part!r} runs backwards")
                values.extend(numpy.arange(start, stop + step / 2, step).tolist())
            elif part:
                values.append(part)
        out[name] = values
    return out


def cmd_sweep(args: argparse.Namespace) -> str:
    from .sweep import Progress, pareto, sweep
    from .workbook.export import write_text_atomically

    quantities = [n.strip() for n in args.quantities.split(",")] if args.quantities else None
    for n in quantities or []:
        REGISTRY.get(n)
    vary = parse_vary(args.vary)
    frame = sweep(args.model.split(","), args.hardware.split(","), vary, parse_sets(args.set), quantities,
                  drop_unfit=args.drop_unfit, progress=Progress(sys.stderr, not args.quiet))
    for name, reason in frame.attrs.get("unavailable", {}).items():
        print(f"symroof: warning: {name} left out: {reason}", file=sys.stderr)
    if args.pareto:
        groups = [c for c in ("model", "hardware", *vary) if c != "batch_size" and c in frame]
        frame = pareto(frame, by=groups).reset_index(drop=True)
    if args.format == "json":
        text = json.dumps({"units": frame.attrs.get("units", {}),
                           "rows": json.loads(frame.to_json(orient="records"))}, indent=1)
    elif args.format == "csv":
        text = frame.to_csv(index=False).rstrip("\n")
    else:
        text = frame.to_string(index=False)
    if args.output:
        write_text_atomically(text + "\n", Path(args.output))
        return f"{len(frame)} rows written to {args.output}"
    return text


def cmd_plot(args: argparse.Namespace) -> str:
    from .plot import SEED_CONTEXTS, plot

    contexts = [float(c) for c in args.contexts.split(",")] if args.contexts else SEED_CONTEXTS
    return str(plot(args.kind, args.model, args.hardware, args.output, parse_sets(args.set), contexts))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symroof", description="Symbolic roofline models of LLM serving (LLaMA 3 on TPUs and GPUs).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("list", help="list catalog models, hardware, or every quantity")
    p.add_argument("what", choices=["models", "hardware", "quantities"])
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("eval", help="evaluate every quantity for a model on a chip",
                       description="Evaluate every quantity for MODEL on HARDWARE (catalog ids or TOML paths).")
    p.add_argument("model", metavar="MODEL", help="catalog id (llama-3-70b) or path to a model TOML")
    p.add_argument("hardware", metavar="HARDWARE", help="catalog id (tpu-v5e) or path to a hardware TOML")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="set an input or pin a derived quantity; a value may carry a unit "
                        "('hbm_bandwidth=820 GB/s'); dtypes by name (weight_dtype=int8). Repeatable.")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("solve", help="show a threshold's equation, closed form, regime and value",
                       description="Show how a threshold is solved; with MODEL HARDWARE (or one of them when "
                                   "the threshold does not depend on the other) also its value.")
    p.add_argument("name", metavar="NAME", help="a solved threshold, e.g. critical_batch_size")
    p.add_argument("model", metavar="MODEL", nargs="?")
    p.add_argument("hardware", metavar="HARDWARE", nargs="?")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="as for eval")
    p.add_argument("--format", choices=["text", "latex", "json"], default="text")
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("sensitivity", help="elasticities of a quantity and the active bound",
                       description="Elasticities d ln y / d ln x of QUANTITY with respect to every input, "
                                   "largest first, and which branch of each max() is active.")
    p.add_argument("quantity", metavar="QUANTITY")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("hardware", metavar="HARDWARE")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="as for eval")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_sensitivity)

    p = sub.add_parser("export", help="write a live-formula Excel workbook",
                       description="Write a workbook whose cells are live formulas over one defined name per "
                                   "quantity; it recomputes in Excel or LibreOffice exactly as symroof does.")
    p.add_argument("model", metavar="MODEL", nargs="?")
    p.add_argument("hardware", metavar="HARDWARE", nargs="?")
    p.add_argument("--template", default="engineering", help="engineering (default), finance, or a TOML path")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="as for eval")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="the file to write (default MODEL_HARDWARE_TEMPLATE.xlsx); with --all, the folder")
    p.add_argument("--all", action="store_true", help="export the catalog's featured pairs into sheets/")
    p.add_argument("--force", action="store_true", help="overwrite a workbook whose input cells were edited")
    p.add_argument("--keep-inputs", action="store_true",
                   help="carry the edited input cells of the existing workbook into the new one")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("sweep", help="evaluate quantities over a grid of inputs (vectorised)",
                       description="Evaluate quantities over every combination of the --vary values, compiled "
                                   "once to numpy. MODEL and HARDWARE may be comma-separated lists of ids.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("hardware", metavar="HARDWARE")
    p.add_argument("--vary", action="append", metavar="NAME=VALUES",
                   help="values to sweep: a comma list and/or inclusive ranges a:b[:step], e.g. batch_size=1:512, "
                        "context_length=2048,8192,32768, weight_dtype=bf16,int8. Repeatable.")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="as for eval")
    p.add_argument("--quantities", metavar="A,B,...", help="what to report (default: step time, its terms, "
                                                           "tokens/s, tokens/s/chip, cost per million tokens)")
    p.add_argument("--drop-unfit", action="store_true", help="drop points whose parameters and KV exceed HBM")
    p.add_argument("--pareto", action="store_true",
                   help="keep only the latency-throughput frontier (per value of every other varied input)")
    p.add_argument("--format", choices=["csv", "json", "table"], default="csv")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("plot", help="draw the seed's frontier or latency-breakdown figure",
                       description="Draw the latency-throughput frontier or the decode latency breakdown, one "
                                   "curve (or panel) per context length. Defaults reproduce the seed's figure: "
                                   "LLaMA 3-70B on a TPU v5e 4x4, int8 weights and KV, bf16 FLOPs, 8.2e11 byte/s.")
    p.add_argument("kind", choices=["frontier", "breakdown"])
    p.add_argument("model", metavar="MODEL", nargs="?", default="llama-3-70b")
    p.add_argument("hardware", metavar="HARDWARE", nargs="?", default="tpu-v5e")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="as for eval (over the seed's figure)")
    p.add_argument("--contexts", metavar="A,B,...", help="context lengths (default 2048 to 65536)")
    p.add_argument("-o", "--output", metavar="FILE", required=True, help=".png, .svg or .html (slider)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("explain", help="show a quantity's formula, unit, source and dependencies")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_explain)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        out = args.func(args)
    except SymroofError as exc:
        print(f"symroof: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file that cannot be read or written
        where = f" {exc.filename}" if exc.filename else ""
        print(f"symroof: error: cannot write or read{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        print(out)
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
