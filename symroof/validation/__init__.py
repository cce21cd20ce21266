"""How far ``symroof serve`` is from published serving measurements (``symroof validate``).

Each published point (``symroof/data/serving.csv``: model, chip, layout,
dtypes, engine, workload, lengths, metric, unit, source) is predicted through
:func:`symroof.serve` with the workload its source describes, in three ways:

- **bound**: the chapter's idealised engine (no overheads, no caps but HBM);
- **estimate**: the chip's calibration and the engine profile as shipped,
  whose CPU times were fitted on this dataset (so this figure is in-sample);
- **held out**: leave one source out: for each source, the engine's CPU
  times are fitted on every *other* source's points and the source's own
  points are predicted with them. This is the figure to trust.

The error of a set of points is the geometric mean of ``|ln(measured /
predicted)|`` as a percentage. The fit is a search over a grid of the three
CPU times (per step, per running request, per request at the API), each
point's whole grid evaluated at once by the compiled sweep, so the
leave-one-source-out fits cost a table lookup. The CPU times are fitted per
engine and harness (TensorRT-LLM's trtllm-bench tables apart from its
trtllm-serve runs), every point weighted alike, within :data:`BOUNDS`; rows
the audit flags (``excluded_from_fit``) enter no fit and are reported apart.

With ``replay``, each point whose source ran a benchmark (a closed loop, an
open loop, all at once) is also replayed step by step (:mod:`symroof.replay`),
as ``serve(..., replay=True)`` does, with the shipped profile and (held out)
with the CPU times fitted on the other sources.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy

from .. import catalog, profiles
from ..core.errors import InputError
from ..core.units import Q_
from ..core.values import parse_value
from ..declare import REGISTRY
from ..derive import table
from ..evaluation import load_calibration
from ..replay import Benchmark
from ..serve import Workload, replayed, serve
from ..sweep import FIT, compile_sweep
from .dataset import COLUMNS, METRICS, NOT_PREDICTED, OPTIONAL, ROUNDS, Point, default_data, draw_lengths, load
from .report import render

__all__ = ["BOUNDS", "COLUMNS", "GRID", "OPTIONAL", "Point", "Validation", "benchmark", "default_data",
           "fit_profiles", "load", "render", "report", "run"]

#: The engine CPU times the fit searches, in each quantity's unit (ms, us/sequence, ms).
#: Each range is what an engine's CPU plausibly costs (a wider grid fits model error as overhead: the held-out
#: error grew from 34% to 36% when it reached 10 ms and 200 us).
GRID = {"step_overhead": (0, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.3, 1.7, 2.2, 3.0),
        "engine_request_overhead": (0, 1, 2, 4, 7, 10, 15, 25, 40),
        "api_overhead": (0, 5, 10, 20, 40, 80, 160, 320)}
#: The CPU times a fit may choose (inclusive, in GRID's units). The grid reaches past them so that the shipped
#: profiles' older fits still lie on it, but a fit stops here: beyond them a CPU time stands in for model error.
#: - step_overhead up to 2.2 ms: scheduling, sampling and launching one step of a CUDA-graphed engine; vLLM V1 and
#:   SGLang publish 1-2 ms of CPU per step for large batches before their overlap schedulers hide it.
#: - engine_request_overhead up to 15 us per running sequence: the per-sequence bookkeeping of a scheduler in
#:   Python (block tables, stop checks, detokenisation); at 40 us, 512 sequences would cost 20 ms a step, more than
#:   a whole decode step measured on one H100 at that batch.
#: - api_overhead up to 80 ms: an OpenAI-compatible server's tokenisation, HTTP and queueing of one request before
#:   its first step; what is above it in a closed loop is the queueing the closed form does not see.
BOUNDS = {"step_overhead": (0.0, 2.2), "engine_request_overhead": (0.0, 15.0), "api_overhead": (0.0, 80.0)}
MISS = 3.0  # |ln ratio| charged to a grid point that cannot serve the workload (e^3: 20x off)
#: The replay's summary that stands for each predicted quantity (a benchmark reports means).
REPLAYED = {"ttft": "ttft_mean", "itl": "itl_mean", "e2e_latency": "e2e_latency_mean",
            "output_throughput": "replay_output_throughput",
            "output_throughput_per_chip": "replay_output_throughput_per_chip"}


@dataclass
class Validation:
    """Every point predicted, and the fit per engine (the grid index, its loss and points)."""

    points: list[Point]
    fitted: dict[str, tuple[dict[str, float], float, int]]

    def predicted(self) -> list[Point]:
        return [p for p in self.points if p.skipped is None and p.bound]

    def warnings(self) -> list[str]:
        """One line per model, chip or metric the rows name and symroof does not know, with how many rows."""
        where = {"model": "symroof list models", "chip": "symroof list hardware",
                 "metric": "known: " + ", ".join([*METRICS, *NOT_PREDICTED])}
        rows = Counter(p.unknown for p in self.points if p.unknown is not None)
        return [f"{n} row{'s' if n > 1 else ''} not predicted: {kind} {name!r} is not one symroof knows "
                f"({where[kind]})" for (kind, name), n in rows.items()]


def _call(p: Point, cpu: dict[str, float] | None = None):
    """The serve call of ``p`` (with ``cpu``: the engine CPU times in GRID's units set)."""
    s = dict(p.serve)
    s.pop("workload_text", None)
    if cpu:
        s["overrides"] = {**s["overrides"], **{n: f"{v} {REGISTRY.get(n).unit}" for n, v in cpu.items()}}
    return serve(p.row["model"], p.row["chip"], engine=p.engine, **s)


def _read(p: Point, value: float) -> float | None:
    return float(value) if math.isfinite(value) and value > 0 else None


def _predict(p: Point, replay: bool = False) -> tuple[float | None, float | None]:
    """(bound, estimate) of ``p``, from one serve call (which evaluates both modes); the reason kept if refused.
    With ``replay``, the point's benchmark is replayed over the same estimate (``p.replay``)."""
    try:
        out = _call(p)
        values = tuple(_read(p, out.evaluations[m].quantity(p.quantity).to(p.unit).magnitude * p.scale)
                       for m in ("bound", "estimate"))
    except InputError as exc:
        p.skipped = str(exc)
        return None, None
    if replay and p.benchmark and values[0]:
        p.replay = _replay(p, served=out)
    return values


def benchmark(p: Point) -> Benchmark:
    """The benchmark the point's source ran: its request count and its lengths where the source states them
    (InferenceMAX: 10 requests per user, lengths drawn as its client draws them); else the replay's defaults."""
    if p.spread is None or not isinstance(p.serve.get("concurrency"), float):
        return Benchmark()
    n = int(ROUNDS * p.serve["concurrency"])
    row = p.row
    largest = (float(row["input_length"]), float(row["output_length"]))
    return Benchmark(lengths=(draw_lengths(largest[0], n, 0), draw_lengths(largest[1], n, 1)))


def _replay(p: Point, cpu: dict[str, float] | None = None, served=None) -> float | None:
    """The replay of the point's benchmark in estimate mode, in the row's unit (None where it cannot run)."""
    try:
        replayed_run = replayed((served or _call(p, cpu)).evaluations["estimate"], benchmark(p))
    except (InputError, RuntimeError) as exc:  # RuntimeError: the replay's own check of its scheduler
        p.replay_error = str(exc)
        return None
    value, unit, _ = replayed_run.readings()[REPLAYED[p.quantity]]
    return _read(p, Q_(value, unit).to(p.unit).magnitude * p.scale) if unit else None


@functools.lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    return frozenset(REGISTRY.names())


@functools.lru_cache(maxsize=256)
def _compiled(model: str, chip: str, engine: str, fixed: tuple, varied: tuple, quantity: str):
    hardware = catalog.load("hardware", chip)
    return compile_sweep(model, hardware, varied, (quantity, FIT, "serve_kv_holds_a_request"), dict(fixed),
                         "estimate", load_calibration(hardware, None), profiles.load(engine, hardware))


def _grid(p: Point) -> numpy.ndarray:
    """The point's prediction at every grid point (nan where the engine cannot serve it), in C order of GRID."""
    s = dict(p.serve)
    overrides = s.pop("overrides")
    work = Workload(s["input_length"], s["output_length"], s.get("concurrency"), s.get("rate"), s.get("batch"))
    workload = work.settings()
    settings = {**workload, **overrides}
    # the workload's numbers are compiled as arguments, so points differing only in them share one compile
    numeric = {n: parse_value(REGISTRY.get(n), settings.pop(n), n) for n in workload
               if not REGISTRY.get(n).categorical}
    fixed = tuple(sorted((k, str(v)) for k, v in settings.items()))
    # an unpublished chip value (a scale-up latency: nan in the catalog) is varied as nan: fixed, sympy's Max
    # refuses it, and 298 rows were once dropped without a word that way
    hardware = catalog.load("hardware", p.row["chip"]).values
    unpublished = {n: numpy.nan for n, v in hardware.items()
                   if isinstance(v, float) and math.isnan(v) and n not in settings and n in _names()}
    compiled = _compiled(p.row["model"], p.row["chip"], p.engine, fixed, (*GRID, *numeric, *unpublished),
                         p.quantity)
    axes = numpy.meshgrid(*(numpy.asarray(v, dtype=float) * REGISTRY.get(n).factor for n, v in GRID.items()),
                          indexing="ij")
    result = compiled(**{n: a.ravel() for n, a in zip(GRID, axes, strict=True)}, **numeric, **unpublished)
    unit = table().specs[p.quantity].unit_text
    values = numpy.array(result[p.quantity], dtype=float) / REGISTRY.get(p.quantity).factor
    values = values * Q_(1, unit).to(p.unit).magnitude * p.scale
    values[(result[FIT] < 0.5) | (result["serve_kv_holds_a_request"] < 0.5)] = numpy.nan
    return values


def _allowed() -> numpy.ndarray:
    """Which grid points lie within BOUNDS (C order of GRID)."""
    axes = numpy.meshgrid(*(numpy.asarray(v, dtype=float) for v in GRID.values()), indexing="ij")
    inside = [(a >= BOUNDS[n][0]) & (a <= BOUNDS[n][1]) for n, a in zip(GRID, axes, strict=True)]
    return numpy.logical_and.reduce(inside).ravel()


def _best(points: list[Point], grids: dict[int, numpy.ndarray]) -> tuple[int, float]:
    """The grid point within BOUNDS with the least mean |ln(measured / predicted)| over ``points``, and that loss.

    Every point weighs the same (per-source weights let 33 points of small sources outvote 600).
    """
    logs = numpy.array([numpy.abs(numpy.log(p.measured / grids[id(p)])) for p in points])
    loss = numpy.where(numpy.isfinite(logs), logs, MISS).mean(axis=0)
    loss[~_allowed()] = numpy.inf
    i = int(numpy.argmin(loss))
    return i, float(loss[i])


def _values(i: int) -> dict[str, float]:
    at = numpy.unravel_index(i, [len(v) for v in GRID.values()])
    return {n: float(v[k]) for (n, v), k in zip(GRID.items(), at, strict=True)}


def run(path: str | Path | None = None, progress: Callable[[int, int], None] | None = None,
        fit: bool = True, replay: bool = False) -> Validation:
    """Every point predicted in bound and estimate mode, and (with ``fit``) held out by source.

    Without ``fit`` the points are predicted with the shipped profiles only: the way to score a set of
    points the profiles never saw (a held-back set). With ``replay``, each point whose source ran a benchmark is
    replayed too (and held out, with ``fit``). A file already run in this process (same size and time) is not run
    again.
    """
    where = Path(path) if path is not None else default_data()
    try:
        stat = where.stat()
        key = (str(where.resolve()), stat.st_mtime_ns, stat.st_size, fit, replay)
    except OSError:
        key = None
    if key in _RUNS:
        return _RUNS[key]
    out = _run(path, progress, fit, replay)
    if key is not None:
        _RUNS[key] = out
    return out


_RUNS: dict[tuple, Validation] = {}


def _run(path: str | Path | None, progress: Callable[[int, int], None] | None, fit: bool,
         replay: bool) -> Validation:
    points = load(path)
    todo = [p for p in points if p.skipped is None]
    grids: dict[int, numpy.ndarray] = {}
    for n, p in enumerate(todo):
        p.bound, p.estimate = _predict(p, replay)
        if p.skipped is None and p.bound:
            if fit:
                try:
                    grids[id(p)] = _grid(p)
                except (InputError, ValueError) as exc:  # counted and named in the report, never dropped silently
                    p.skipped, p.bound, p.estimate = f"the fit's grid cannot be evaluated ({exc})", None, None
        if progress is not None:
            progress(n + 1, len(todo))
    if not fit:
        return Validation(points, {})
    done = [p for p in todo if id(p) in grids]
    fitting = [p for p in done if not p.excluded]
    fitted = {}
    for harness in sorted({p.harness for p in fitting}):
        own = [p for p in fitting if p.harness == harness]
        i, loss = _best(own, grids)
        fitted[harness] = (_values(i), math.exp(loss) - 1, len(own))
    for group in {p.group for p in done}:
        rest = [p for p in fitting if p.group != group]  # never a fit that saw the point's source
        for harness in {p.harness for p in done if p.group == group}:
            train = [p for p in rest if p.harness == harness] or rest  # no other source of it: all the others
            if not train:
                continue
            i, _ = _best(train, grids)
            for p in done:
                if p.group == group and p.harness == harness:
                    value = grids[id(p)][i]
                    p.held_out = float(value) if math.isfinite(value) else None
                    if replay and p.replay is not None:
                        p.held_out_replay = _replay(p, _values(i))
    return Validation(points, fitted)


def fit_profiles(path: str | Path | None = None) -> dict[str, tuple[dict[str, float], float, int]]:
    """Per engine: the CPU times that fit every point of the dataset best, their error and the points."""
    return run(path).fitted


def report(path: str | Path | None = None, fmt: str = "table", show_rows: bool = True,
           progress: Callable[[int, int], None] | None = None, fit: bool = True, replay: bool = False) -> str:
    """The validation report: per point, and the error per metric, family, engine, dtype, vendor and mode."""
    return render(run(path, progress, fit, replay), fmt, show_rows)
