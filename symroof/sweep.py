"""Sweeps: the declared formulas over grids of inputs, compiled once to vectorised numpy.

For one model, chip and set of dtypes, every quantity that does not depend on
a varied input is folded in as a number; the requested quantities are opened
down to the varied inputs (:class:`symroof.lower.Opener`, the same lowering as
everything else) and compiled together, shared subexpressions computed once.
What runs per point is about what one would write by hand.

The slice is held fixed: unless ``n_chips`` is varied or set, every point of a
sweep uses the smallest slice of the scenario as given (the varied inputs at
their defaults), so ``fits`` means what it says and step times compare.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy
import pandas
import sympy

from . import catalog, profiles
from .core.errors import InputError
from .core.values import is_switch, parse_value
from .declare import REGISTRY, Kind
from .declare.quantity import default_text
from .derive import declared as _declared  # noqa: F401  (declares every quantity, with cached closed forms)
from .derive import table
from .derive.lower import Opener
from .evaluation import RULE, Evaluation, MissingInput, load_calibration, parse_overrides, resolve_input
from .evaluation.grid import Grid
from .evaluation.pair import refuse_other_spellings
from .printing.numpy import codegen

#: Quantities a sweep reports when none are named.
DEFAULT_QUANTITIES = ("step_time", "step_time_kv", "step_time_flops", "step_time_params", "tokens_per_second",
                      "tokens_per_second_per_chip", "cost_per_million_tokens")
#: What a sweep over a serving workload shows by default (the engine's answer, as symroof serve gives it).
SERVING_QUANTITIES = ("ttft", "itl", "e2e_latency", "output_throughput_per_chip", "running_batch", "serve_step_time",
                      "serve_stable")
#: A workload input varied or set picks its workload, unless the workload is given: varying request_rate
#: under the default closed loop would change nothing (issue 28).
WORKLOAD_OF = {"request_rate": "rate", "concurrency": "concurrency"}
FIT = "fits_in_hbm"  # always computed: does the point fit in HBM? (reported as the column "fits")
CHUNK = 2_000_000  # points evaluated at once (bounds the memory of the intermediates)
#: The largest table a sweep builds in memory (cells of 8 bytes); streamed CSV has no such limit.
MAX_CELLS = 2**28


@dataclass
class CompiledSweep:
    """The requested quantities as one numpy function of the varied inputs (base units in and out)."""

    varied: tuple[str, ...]
    targets: tuple[str, ...]
    function: Callable
    expressions: tuple[sympy.Expr, ...]  # what was compiled: the targets over the varied inputs

    def __call__(self, **arrays: numpy.ndarray) -> dict[str, numpy.ndarray]:
        args = [numpy.asarray(arrays[n], dtype=float) for n in self.varied]
        shape = numpy.broadcast_shapes(*(a.shape for a in args)) if args else ()
        with numpy.errstate(divide="ignore", invalid="ignore", over="ignore"):
            results = self.function(*args)
        return {n: numpy.broadcast_to(numpy.asarray(r, dtype=float), shape)
                for n, r in zip(self.targets, results, strict=True)}


def _entry(kind: str, ref: str | catalog.Entry) -> catalog.Entry:
    return ref if isinstance(ref, catalog.Entry) else catalog.load(kind, ref)


def compile_sweep(model: str | catalog.Entry, hardware: str | catalog.Entry, varied: Sequence[str],
                  targets: Sequence[str], overrides: Mapping[str, Any] | None = None,
                  mode: str = "bound", calibration: catalog.Entry | None = None,
                  engine: catalog.Entry | None = None) -> CompiledSweep:
    """Compile ``targets`` as functions of the numeric inputs ``varied``; everything else is fixed.

    ``overrides`` (as for :func:`symroof.evaluate`) fix inputs, pin derived
    quantities and choose dtypes. Fixed inputs become numbers that sympy folds,
    so only the varied ones remain.
    """
    m, h = _entry("model", model), _entry("hardware", hardware)
    for name in varied:
        q = REGISTRY.get(name)
        if q.kind != Kind.INPUT or q.categorical:
            raise InputError(f"--vary {name}: only numeric inputs vary within one compiled sweep")
    given = parse_overrides({k: v for k, v in (overrides or {}).items() if k not in varied})
    entries = tuple(e for e in (m, h, engine, calibration) if e is not None)
    fixed = _fixed_values(entries, given, frozenset(varied), mode)
    pins = frozenset(n for n in given if REGISTRY.get(n).kind == Kind.DERIVED)
    opener = Opener(pins, mode, fixed, stop=frozenset(varied), rules=True)
    exprs = tuple(opener.expr(REGISTRY.get(t)) for t in targets)
    symbols = [REGISTRY.get(n).symbol for n in varied]
    return CompiledSweep(tuple(varied), tuple(targets), codegen(symbols, list(exprs), "_sweep"), exprs)


def _fixed_values(entries: tuple, given: dict[str, Any], varied: frozenset[str], mode: str) -> dict[str, Any]:
    """The value of every input that is not varied and not left to a default rule (base units or choices)."""
    out: dict[str, Any] = {}
    for s in table():
        if s.name in varied or s.kind == "constant" or not (s.kind == "input" or s.name in given):
            continue
        try:
            origin, value = resolve_input(s, given, entries, mode)
        except MissingInput:
            continue  # stays a symbol: quantities needing it come out unavailable (nan)
        if origin != RULE:
            out[s.name] = value
    return out


def _values(name: str, raw: Sequence[Any]) -> Any:
    """The varied values in base units (an array) or, for a dtype, the checked choices."""
    q = REGISTRY.get(name)
    where = f"--vary {name}"
    if q.categorical:
        return [parse_value(q, v, where) for v in raw]
    array = numpy.asarray(raw, dtype=object) if not isinstance(raw, numpy.ndarray) else raw
    if array.dtype != object or all(isinstance(v, int | float) and not isinstance(v, bool) for v in array):
        numbers = numpy.asarray(array, dtype=float)  # plain numbers, in the quantity's unit: checked at once
        bad = numbers[~numpy.isfinite(numbers) | (numbers <= 0)]
        if bad.size:
            parse_value(q, float(bad[0]), where)  # raises the usual message
        if q.integer and numpy.any(numbers != numpy.round(numbers)):
            parse_value(q, float(numbers[numbers != numpy.round(numbers)][0]), where)
        for v in (numbers.min(), numbers.max(), *(numpy.unique(numbers) if is_switch(q) else ())):
            parse_value(q, float(v), where)  # at most, at least (an imbalance of 1), a switch's 0 or 1
        return numbers * q.factor
    return numpy.asarray([parse_value(q, v, where) for v in raw], dtype=float)


@dataclass
class Plan:
    """A sweep checked and laid out before any work: what varies, what is held, how big it is."""

    models: list[str]
    hardware: list[str]
    quantities: list[str]
    categorical: dict[str, list]
    columns: dict[str, numpy.ndarray]  # numeric varied inputs, base units, one entry per point
    points: int
    combos: list[tuple]
    overrides: dict[str, Any]
    unavailable: dict[str, str]
    held: dict[tuple, float]  # n_chips held per combination (when neither varied nor set)
    mode: str
    axes: dict[str, numpy.ndarray]  # numeric varied inputs: their values (base units)
    calibrations: dict[str, Any] = field(default_factory=dict)  # estimate mode: per chip
    engines: dict[str, Any] = field(default_factory=dict)  # an engine profile (symroof serve): per chip

    @property
    def total(self) -> int:
        return self.points * len(self.combos)

    @property
    def width(self) -> int:
        return len(self.quantities) + len(self.columns) + len(self.categorical) + 4

    def describe_held(self) -> str | None:
        """One sentence naming the slice the sweep held, or None."""
        if not self.held:
            return None
        sizes = sorted({v for v in self.held.values()})
        shown = ", ".join(f"{v:g}" for v in sizes)
        varied = [*self.axes, *self.categorical]
        defaults = ", ".join(f"{n}={_default_text(n)}" for n in varied if REGISTRY.get(n).kind == Kind.INPUT
                             and not REGISTRY.get(n).categorical)
        return (f"n_chips held at {shown} (the smallest slice at the scenario's defaults"
                f"{': ' + defaults if defaults else ''}); vary or set n_chips to change it")


def _default_text(name: str) -> str:
    return default_text(REGISTRY.get(name)) or "?"


def plan(models: str | Sequence[str], hardware: str | Sequence[str], vary: Mapping[str, Sequence[Any]],
         overrides: Mapping[str, Any] | None = None, quantities: Sequence[str] | None = None,
         mode: str = "bound", calibration: str | None = None, engine: str | None = None) -> Plan:
    """Check a sweep and lay it out (the grid, the held slice, its size) without evaluating it.

    In estimate mode each chip takes its shipped calibration (or the generic
    one), or ``calibration`` (a file from symroof calibrate, for that chip).
    """
    models = [models] if isinstance(models, str) else list(models)
    hardware = [hardware] if isinstance(hardware, str) else list(hardware)
    if calibration is not None:
        mode = "estimate"
    calibrations = {c: load_calibration(catalog.load("hardware", c), calibration) for c in hardware} \
        if mode == "estimate" else {}
    engines = {c: profiles.load(engine, catalog.load("hardware", c)) for c in hardware} if engine else {}
    overrides = dict(overrides or {})
    serving = [n for n in WORKLOAD_OF if n in vary or n in overrides]
    if len(serving) > 1:
        raise InputError("request_rate and concurrency belong to different workloads (an open and a closed loop); "
                         "vary or set one of them")
    if serving and "workload" not in vary and "workload" not in overrides:
        overrides["workload"] = WORKLOAD_OF[serving[0]]
    if serving and "colocated_replicas" not in vary:  # one engine takes the whole rate, as serve gives it
        overrides.setdefault("colocated_replicas", 1)
    if not vary:
        raise InputError("nothing to vary: give at least one --vary NAME=VALUES")
    both = sorted(set(vary) & set(overrides))
    if both:
        raise InputError(f"{both[0]} is both varied and set; give it one way")
    for n, v in vary.items():
        if REGISTRY.get(n).kind != Kind.INPUT:
            raise InputError(f"--vary {n}: only inputs vary (numbers within one compiled sweep, or dtypes)")
        if len(v) == 0:
            raise InputError(f"--vary {n}: no values")
    unavailable: dict[str, str] = {}
    fixed_overrides = {k: v for k, v in overrides.items() if k not in vary}
    probes = {(m, c): Evaluation(catalog.load("model", m), catalog.load("hardware", c),
                                 parse_overrides(fixed_overrides), mode=mode, calibration=calibrations.get(c),
                                 engine=engines.get(c))
              for m, c in itertools.product(models, hardware)}
    if quantities is None and serving:  # the probe stands at one default rate or concurrency: every row has its own
        quantities = list(SERVING_QUANTITIES)
    elif quantities is None:
        quantities = list(DEFAULT_QUANTITIES)
        for probe in probes.values():
            unavailable.update({q: probe.unavailable[q] for q in quantities if q in probe.unavailable})
        quantities = [q for q in quantities if q not in unavailable]
    else:
        for (m, c), probe in probes.items():
            missing = [q for q in quantities if q in probe.unavailable and q not in vary]
            if missing:
                raise InputError(f"{missing[0]} on {m} and {c}: {probe.unavailable[missing[0]]}")
    quantities = [q for q in quantities if q != "n_chips"]
    for name in quantities:
        if REGISTRY.get(name).kind == Kind.CONSTANT:
            raise InputError(f"{name} is a constant")
    categorical = {n: _values(n, v) for n, v in vary.items() if REGISTRY.get(n).categorical}
    numeric_axes = {n: _values(n, v) for n, v in vary.items() if not REGISTRY.get(n).categorical}
    points = int(numpy.prod([len(v) for v in numeric_axes.values()])) if numeric_axes else 1
    combos = list(itertools.product(models, hardware, *categorical.values()))
    held: dict[tuple, float] = {}
    # the slice is held fixed unless varied or set, or unless its default rule is written in a varied input
    # (tensor_parallel x pipeline_parallel): then each row's layout gives its own chips
    follows = set(vary) & set(table().get("n_chips").deps)
    if "n_chips" not in vary and "n_chips" not in overrides and not follows:
        for combo in combos:
            m, c, *choices = combo
            probe = probes[(m, c)] if not choices else Evaluation(
                catalog.load("model", m), catalog.load("hardware", c),
                parse_overrides({**fixed_overrides, **dict(zip(categorical, choices, strict=True))}), mode=mode,
                calibration=calibrations.get(c), engine=engines.get(c))
            if "n_chips" in probe.unavailable:
                raise InputError(f"n_chips: {probe.unavailable['n_chips']}")
            held[combo] = probe.magnitude("n_chips")
    out = Plan(models, hardware, list(quantities), categorical, {}, points, combos, overrides, unavailable, held,
               mode, numeric_axes, calibrations, engines)
    if numeric_axes and out.total * out.width <= MAX_CELLS:  # small enough to lay the grid out at once
        grids = numpy.meshgrid(*numeric_axes.values(), indexing="ij")
        out.columns = {n: g.ravel() for n, g in zip(numeric_axes, grids, strict=True)}
    return out


def check_size(p: Plan, streamed: bool = False) -> None:
    """Refuse, before any work, a sweep whose table would not fit in memory (unless it streams to a file)."""
    cells = p.total * p.width
    if streamed or cells <= MAX_CELLS:
        return
    size = cells * 8 / 2**30
    raise InputError(f"the sweep has {p.total:,} points x {p.width} columns ({size:,.1f} GiB as a table), over "
                     f"the limit of {MAX_CELLS * 8 / 2**30:.0f} GiB; sweep fewer values, or stream it with "
                     "--format csv -o FILE")


def _grid(p: Plan, start: int, stop: int) -> dict[str, numpy.ndarray]:
    """The numeric varied inputs of points ``start:stop`` (built per chunk for very large sweeps)."""
    if p.columns:
        return {n: c[start:stop] for n, c in p.columns.items()}
    axes = list(p.axes.values())
    index = numpy.unravel_index(numpy.arange(start, stop), [len(a) for a in axes])
    return {n: a[i] for n, a, i in zip(p.axes, axes, index, strict=True)}


def chunks(p: Plan, progress: Callable[[int, int], None] | None = None,
           drop_unfit: bool = False) -> Iterator[pandas.DataFrame]:
    """The sweep's rows, a chunk of points at a time (for streaming large sweeps to a file)."""
    checks = [s.name for s in table() if s.on_false == "refuse"]
    targets = tuple(dict.fromkeys([*p.quantities, FIT, "n_chips", *checks]))
    done = 0
    for combo in p.combos:
        model, chip, *choices = combo
        fixed = {**p.overrides, **dict(zip(p.categorical, choices, strict=True))}
        if combo in p.held:
            fixed["n_chips"] = p.held[combo]
        compiled = compile_sweep(model, chip, tuple(p.axes), targets, fixed, p.mode, p.calibrations.get(chip),
                                 p.engines.get(chip))
        for start in range(0, p.points, CHUNK):
            stop = min(start + CHUNK, p.points)
            grid = _grid(p, start, stop)
            result = compiled(**grid) if grid else compiled()
            n = stop - start
            for check in checks:  # a layout that cannot be: the point's own evaluation says why
                ok = numpy.broadcast_to(numpy.asarray(result[check]) > 0.5, (n,))
                if not ok.all():
                    i = int(numpy.argmin(ok))
                    point = {**fixed, **{k: v[i] / REGISTRY.get(k).factor for k, v in grid.items()}}
                    Evaluation(catalog.load("model", model), catalog.load("hardware", chip),
                               parse_overrides(point), mode=p.mode, calibration=p.calibrations.get(chip),
                               engine=p.engines.get(chip))
                    raise InputError(f"{check} fails at a point of the sweep")
            labels = {"model": model, "hardware": chip, **dict(zip(p.categorical, choices, strict=True))}
            frame = {k: pandas.Categorical.from_codes(numpy.zeros(n, dtype=numpy.int8), [v])
                     for k, v in labels.items()}
            for name, column in grid.items():
                frame[name] = column / REGISTRY.get(name).factor
            if "n_chips" not in grid:
                frame["n_chips"] = numpy.broadcast_to(numpy.asarray(result["n_chips"], dtype=float)
                                                      / REGISTRY.get("n_chips").factor, (n,)).copy()
            for t in p.quantities:
                frame[t] = numpy.atleast_1d(result[t]) / REGISTRY.get(t).factor
            frame["fits"] = numpy.atleast_1d(result[FIT]) > 0.5
            out = pandas.DataFrame(frame, index=pandas.RangeIndex(n))
            if drop_unfit:
                out = out[out["fits"]].reset_index(drop=True)
            done += n
            if progress is not None:
                progress(done, p.total)
            yield out


def _chips(value: Any) -> float:
    """``n_chips`` as set (a number or text such as "16") or held (a number), in chips."""
    if isinstance(value, int | float | numpy.number):
        return float(value)
    return parse_value(REGISTRY.get("n_chips"), value, "--set n_chips") / REGISTRY.get("n_chips").factor


def sweep(models: str | Sequence[str], hardware: str | Sequence[str], vary: Mapping[str, Sequence[Any]],
          overrides: Mapping[str, Any] | None = None, quantities: Sequence[str] | None = None,
          drop_unfit: bool = False, progress: Callable[[int, int], None] | None = None,
          mode: str = "bound", calibration: str | None = None, engine: str | None = None,
          **unknown: Any) -> Grid:
    """Evaluate ``quantities`` over the grid of ``vary`` (every combination), one row per point.

    ``vary`` maps input names to values (numbers in the quantity's unit, text
    with a unit, or dtype names); ``models`` and ``hardware`` may be lists of
    catalog ids. The slice is held fixed unless ``n_chips`` is varied or set
    (``frame.attrs["held"]`` says at what). Rows whose parameters plus KV do not
    fit in HBM are marked in the ``fits`` column, or dropped with
    ``drop_unfit``. Units are recorded per column in ``frame.attrs["units"]``.
    Without ``quantities``, the default ones that a chip cannot give (cost
    without a price) are left out and named in ``frame.attrs["unavailable"]``.
    """
    refuse_other_spellings("sweep", unknown)  # the keywords are evaluate's, serve's and plan's (issue 29)
    p = plan(models, hardware, vary, overrides, quantities, mode, calibration, engine)
    check_size(p)
    frames = list(chunks(p, progress, drop_unfit))
    out = pandas.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for k in ("model", "hardware", *p.categorical):  # one category set across the combinations
        out[k] = out[k].astype(str).astype("category") if len(frames) > 1 else out[k]
    out.attrs = attrs(p, out.columns)
    return Grid.of(out, mode)  # a DataFrame that reads as every result does (value, magnitude, to_frame)


def attrs(p: Plan, columns) -> dict:
    """Units per column, what was left out, what was varied and what was held."""
    return {"units": {c: _unit(c) for c in columns if c in REGISTRY},
            "unavailable": p.unavailable, "varied": [*p.axes, *p.categorical],
            "held": {"n_chips": sorted(set(p.held.values()))} if p.held else {}, "held_note": p.describe_held()}


def _unit(name: str) -> str:
    q = REGISTRY.get(name)
    return "" if str(q.unit) == "dimensionless" else str(q.unit)


def pareto(frame: pandas.DataFrame, x: str = "step_time", y: str = "tokens_per_second_per_chip",
           by: str | Sequence[str] | None = "varied", maximize_y: bool = True) -> pandas.DataFrame:
    """The non-dominated rows: lower ``x`` and higher ``y`` (lower with ``maximize_y=False``), per ``by`` group.

    By default one frontier per combination of everything the sweep varied
    except the batch size (and per model and chip), as the command line does.
    Rows that do not fit in HBM never make the frontier.
    """
    rows = frame[frame["fits"]] if "fits" in frame else frame
    if by == "varied":
        varied = frame.attrs.get("varied", ["context_length"])
        keys = [c for c in ("model", "hardware", *varied) if c != "batch_size" and c in frame
                and frame[c].nunique() > 1]
    else:
        keys = [by] if isinstance(by, str) else list(by or [])
    groups = rows.groupby(keys, sort=True, observed=True) if keys else [((), rows)]
    kept = []
    for _, group in groups:
        g = group.sort_values([x, y], ascending=[True, not maximize_y], kind="stable")
        values = g[y].to_numpy() if maximize_y else -g[y].to_numpy()
        best = numpy.maximum.accumulate(values)
        keep = numpy.ones(len(g), dtype=bool)
        keep[1:] = values[1:] > best[:-1]
        kept.append(g[keep])
    out = pandas.concat(kept) if kept else rows.iloc[:0]
    out.attrs = dict(frame.attrs)
    return out
