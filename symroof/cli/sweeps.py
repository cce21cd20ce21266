"""sweep and plot: grids of operating points and the seed's figures."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas

from ..core.errors import InputError
from ..core.files import atomic_write, check_target, shown, write_text_atomically
from ..core.progress import Progress
from ..core.values import parse_value
from ..derive import table
from ..plot import SEED_CONTEXTS, plot, plot_plan_frontier, plot_serving
from ..sweep import DEFAULT_QUANTITIES, attrs, check_size, chunks, pareto, plan
from .common import mode_of, parse_sets, reachable, refuse_empty, refuse_existing, warn
from .parsing import length, rate, tokens
from .plans import refuse_tpot_percentile, with_unit

#: The most points ``symroof sweep`` writes, to a file or not: about 10 s and 170 MB of CSV at the default 13
#: columns (the library's sweep() is held only by its memory limit: computing is fast, writing text is not).
MAX_POINTS = 1_000_000
BYTES_PER_CELL = 13  # a float as pandas writes it to CSV (a 1,000,000-point sweep of 13 columns wrote 172 MB)


def check_points(sizes: dict[str, int], width: int) -> None:
    """Refuse, before any work, a sweep of more than MAX_POINTS points (the product of ``sizes``)."""
    total = math.prod(sizes.values())
    if total <= MAX_POINTS:
        return
    shape = " x ".join(f"{n:,} {name}" for name, n in sizes.items() if n > 1)
    size = total * width * BYTES_PER_CELL
    disk = next(f"{size / k:,.1f} {unit}" for unit, k in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6))
                if size >= k or unit == "MB")
    raise InputError(f"the sweep has {total:,} points ({shape}) of {width} columns, about {disk} as CSV, over "
                     f"the limit of {MAX_POINTS:,} points; sweep fewer values or a coarser step (a:b:step)")


def _count(start: float, stop: float, step: float) -> int:
    """How many values ``start:stop:step`` holds (inclusive of ``stop``, never past it)."""
    return math.floor((stop - start) / step * (1 + 1e-12) + 1e-9) + 1


def inclusive_range(start: float, stop: float, step: float) -> list[float]:
    """``start, start + step, ...`` up to ``stop`` and never past it (``1:512:64`` ends at 449)."""
    return [start + i * step for i in range(_count(start, stop, step))]


def parse_vary(items: Sequence[str] | None,
               check: Callable[[dict[str, int]], None] | None = None) -> dict[str, list]:
    """``--vary NAME=SPEC``: SPEC is a comma list of values (with units if wanted, or dtype names) and
    inclusive ranges ``a:b`` or ``a:b:step``. ``check`` sees how many values each name has before the ranges
    are laid out (so that ``1:1e12`` is refused, not built)."""
    specs: dict[str, list] = {}  # each part: a range (start, stop, step) or one value as written
    for item in items or []:
        name, sep, spec = item.partition("=")
        name, spec = name.strip(), spec.strip()
        if not sep or not name or not spec:
            raise InputError(f"--vary {item!r}: expected NAME=VALUES, like batch_size=1:512 or "
                             "context_length=2048,8192")
        q = table().get(name)
        if name in specs:
            raise InputError(f"--vary {name} is given twice; give all its values once, separated by commas")
        parts: list = []
        for part in spec.split(","):
            part = part.strip()
            if ":" in part and not q.categorical:
                bounds = part.split(":")
                try:
                    numbers = [float(b) for b in bounds]
                except ValueError:
                    raise InputError(f"--vary {name}: {part!r} is not a range a:b or a:b:step") from None
                if len(numbers) not in (2, 3) or (len(numbers) == 3 and numbers[2] <= 0) or \
                        not all(math.isfinite(x) for x in numbers):
                    raise InputError(f"--vary {name}: {part!r} is not a range a:b or a:b:step")
                start, stop, step = numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else 1.0
                if stop < start:
                    raise InputError(f"--vary {name}: the range {part!r} runs backwards")
                parts.append((start, stop, step))
            elif part:
                parts.append(part)
        specs[name] = parts
    if check is not None:
        check({n: sum(_count(*x) if isinstance(x, tuple) else 1 for x in parts) for n, parts in specs.items()})
    return {n: [v for x in parts for v in (inclusive_range(*x) if isinstance(x, tuple) else [x])]
            for n, parts in specs.items()}


def _rows(n: int) -> str:
    return f"{n:,} row{'' if n == 1 else 's'}"


def cmd_sweep(args: argparse.Namespace) -> str | None:
    quantities = [n.strip() for n in args.quantities.split(",")] if args.quantities else None
    for n in quantities or []:
        table().get(n)
    if args.output is not None:  # refused before any work
        want = {".csv": "csv", ".json": "json", ".txt": "table"}.get(Path(args.output).suffix.lower())
        if want is None or want != args.format:
            raise InputError(f"-o {shown(args.output)}: --format {args.format} writes "
                             f"{ {'csv': '.csv', 'json': '.json', 'table': '.txt'}[args.format]} files; "
                             "name the file so, or choose the format its name says (a workbook: symroof export)")
        check_target(args.output)
        refuse_existing(args.output, args.force)
    models, chips = args.model.split(","), args.hardware.split(",")
    vary = parse_vary(args.vary, lambda counts: check_points({"models": len(models), "chips": len(chips), **counts},
                                                             len(quantities or DEFAULT_QUANTITIES) + len(counts) + 4))
    mode, calibration = mode_of(args)
    given = parse_sets(args.set)
    p = plan(models, chips, vary, given, quantities, mode, calibration, getattr(args, "engine", None))
    streamed = args.format == "csv" and args.output is not None and not args.pareto
    check_size(p, streamed)
    for name, reason in p.unavailable.items():
        warn([f"{name} left out: {reason}"])
    unused(given, p.quantities)
    if p.describe_held():
        warn([p.describe_held()])
    progress = Progress(sys.stderr, not args.quiet)
    if streamed:  # written a chunk at a time, never held whole in memory
        written = 0

        def write(tmp: str) -> None:
            nonlocal written
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                for i, frame in enumerate(_chunks(p, progress, args.drop_unfit)):
                    frame.to_csv(f, index=False, header=i == 0)
                    written += len(frame)

        atomic_write(Path(args.output), write)
        if args.drop_unfit and written == 0:
            warn(["--drop-unfit left no rows: no point fits in HBM (add chips or shorten the context)"])
        return f"{_rows(written)} written to {args.output}"
    frames = list(_chunks(p, progress, args.drop_unfit))
    frame = pandas.concat(frames, ignore_index=True)
    frame.attrs = attrs(p, frame.columns)
    if args.drop_unfit and frame.empty:
        warn(["--drop-unfit left no rows: no point fits in HBM (add chips or shorten the context)"])
    if args.pareto:
        frame = pareto(frame).reset_index(drop=True)
    if args.format == "json":
        text = json.dumps({"units": frame.attrs.get("units", {}),
                           "rows": json.loads(frame.to_json(orient="records"))}, indent=1)
    elif args.format == "csv":
        text = frame.to_csv(index=False).rstrip("\n")
    else:
        text = frame.to_string(index=False)
    if args.output:
        write_text_atomically(text + "\n", Path(args.output))
        return f"{_rows(len(frame))} written to {args.output}"
    return text


def _chunks(p, progress, drop_unfit):
    """The sweep's frames; a value held fixed that leaves the compiled quantities undefined (an open loop past
    saturation) is one sentence, not sympy's traceback (issue 31)."""
    try:
        yield from chunks(p, progress, drop_unfit)
    except (ValueError, TypeError, ZeroDivisionError) as exc:
        held = ", ".join(f"{k}={v}" for k, v in p.overrides.items()) or "the defaults"
        raise InputError(f"the swept quantities have no value at what is held fixed ({held}; {type(exc).__name__}): "
                         "an open loop past saturation (a request_rate above what the engine finishes) has none: "
                         "lower the rate, vary it, or sweep a closed loop (--vary concurrency)") from None


def unused(given, quantities) -> None:
    """A --set that changes none of the reported quantities is named in a warning, never dropped without a word
    (issue 31: --set concurrency=4 on a sweep of step times)."""
    needed = set().union(*(reachable(q) for q in quantities)) if quantities else set()
    idle = [n for n in given if n not in needed]
    if idle:
        warn([f"--set {', '.join(idle)} changes none of the quantities swept ({', '.join(quantities)}); add the "
              "quantities it changes with --quantities, or leave it out"])


#: The options each figure reads; any other given is refused (it would be dropped without a word).
PLOT_OPTIONS = {"plan frontier": ("--rate", "--ttft", "--tpot", "--input", "--output-tokens"),
                "serving": ("--input", "--output-tokens", "--engine"), "frontier": ("--contexts",),
                "breakdown": ("--contexts",)}


def _unused(args: argparse.Namespace, drawn: str) -> None:
    given = {"--contexts": args.contexts, "--input": args.input, "--output-tokens": args.output_tokens,
             "--engine": args.engine}
    refuse_empty({**given, "--rate": args.rate, "--ttft": args.ttft, "--ttft-percentile": args.ttft_percentile,
                  "--tpot": args.tpot})
    unused = [o for o, v in given.items() if v is not None and o not in PLOT_OPTIONS[drawn]]
    if unused:
        *rest, last = PLOT_OPTIONS[drawn]
        reads = f"{', '.join(rest)} and {last}" if rest else last
        raise InputError(f"{', '.join(unused)}: not used by {'the' if drawn == 'plan frontier' else 'plot'} {drawn}, "
                         f"which reads {reads} (and --set); drop {'them' if len(unused) > 1 else 'it'}")


def cmd_plot(args: argparse.Namespace) -> str:
    refuse_tpot_percentile(args)
    refuse_existing(args.output, args.force)
    planned = bool(args.plan or args.rate is not None or args.ttft is not None or args.tpot is not None
                   or args.ttft_percentile is not None)
    _unused(args, "plan frontier" if planned and args.kind == "frontier" else args.kind)
    contexts = SEED_CONTEXTS
    if args.contexts:
        try:
            contexts = [float(c) for c in args.contexts.split(",")]
        except ValueError:
            raise InputError(f"--contexts {args.contexts!r}: expected numbers separated by commas, "
                             "like 2048,8192") from None
    mode, calibration = mode_of(args)
    if planned:
        return _plot_plan_frontier(args, mode, calibration)
    if args.kind == "serving":
        if not (args.model and args.hardware):
            raise InputError("plot serving needs MODEL and HARDWARE")
        if args.estimate and not args.calibration:
            raise InputError("--estimate: not used by plot serving, which draws the bound and the estimate side by "
                             "side; drop it (--calibration FILE sets the estimate's calibration)")
        lengths = [tokens(v if v is not None else 1024, what, option) for v, what, option in (
            (args.input, "input", "--input"), (args.output_tokens, "output", "--output-tokens"))]
        return str(plot_serving(args.model, args.hardware, args.output, *lengths, engine=args.engine or "vllm",
                                overrides=parse_sets(args.set), calibration=calibration))
    return str(plot(args.kind, args.model, args.hardware, args.output, parse_sets(args.set), contexts,
                    mode=mode, calibration=calibration))


def _plot_plan_frontier(args: argparse.Namespace, mode: str, calibration: str | None) -> str:
    """plot frontier --plan: the configuration search's cost frontier at the traffic the options give."""
    if args.kind != "frontier":
        raise InputError(f"--plan, --rate, --ttft and --tpot draw the plan frontier: symroof plot frontier "
                         f"MODEL CHIP --rate R, not plot {args.kind}")
    if not (args.model and args.hardware):
        raise InputError("the plan frontier needs MODEL and HARDWARE, like: symroof plot frontier llama-3-70b "
                         "h100 --rate 10/s -o frontier.html")
    settings = parse_sets(args.set)
    if args.ttft_percentile is not None:  # refused in the option's own words, not as the setting it becomes
        parse_value(table().get("ttft_percentile"), args.ttft_percentile,
                    f"--ttft-percentile {args.ttft_percentile.strip()!r}")
    given = {"request_rate": rate(args.rate) if args.rate else None,
             "ttft_percentile": args.ttft_percentile,
             "input_length": length(args.input, "input") if args.input else None,
             "output_length": length(args.output_tokens, "output", "--output-tokens") if args.output_tokens else None,
             "ttft_target": with_unit(args.ttft, "--ttft", "2s"), "target_step_time": with_unit(args.tpot, "--tpot",
                                                                                             "33ms")}
    for name, value in given.items():
        if value is not None:
            if name in settings:
                raise InputError(f"{name} is given twice (an option and --set); give it once")
            settings[name] = value
    return str(plot_plan_frontier(args.model, args.hardware, args.output, settings, mode, calibration))
