"""sweep and plot: grids of operating points and the seed's figures."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy

from ..errors import InputError
from ..files import write_text_atomically
from ..quantity import REGISTRY
from .common import add_set, parse_sets


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
    from ..progress import Progress
    from ..sweep import pareto, sweep

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
    from ..plot import SEED_CONTEXTS, plot

    contexts = SEED_CONTEXTS
    if args.contexts:
        try:
            contexts = [float(c) for c in args.contexts.split(",")]
        except ValueError:
            raise InputError(f"--contexts {args.contexts!r}: expected numbers separated by commas, "
                             "like 2048,8192") from None
    return str(plot(args.kind, args.model, args.hardware, args.output, parse_sets(args.set), contexts))


def register(sub) -> None:
    """Add this module's commands to the parser."""
    p = sub.add_parser("sweep", help="evaluate quantities over a grid of inputs (vectorised)",
                       description="Evaluate quantities over every combination of the --vary values, compiled "
                                   "once to numpy. MODEL and HARDWARE may be comma-separated lists of ids.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("hardware", metavar="HARDWARE")
    p.add_argument("--vary", action="append", metavar="NAME=VALUES",
                   help="values to sweep: a comma list and/or inclusive ranges a:b[:step], e.g. batch_size=1:512, "
                        "context_length=2048,8192,32768, weight_dtype=bf16,int8. Repeatable.")
    add_set(p)
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
    add_set(p, " Applied over the seed's figure scenario.")
    p.add_argument("--contexts", metavar="A,B,...", help="context lengths (default 2048 to 65536)")
    p.add_argument("-o", "--output", metavar="FILE", required=True, help=".png, .svg or .html (slider)")
    p.set_defaults(func=cmd_plot)
