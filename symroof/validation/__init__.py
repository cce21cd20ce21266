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
leave-one-source-out fits cost a table lookup.
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
from ..serve import Workload, serve
from ..sweep import FIT, compile_sweep
from .dataset import COLUMNS, METRICS, NOT_PREDICTED, OPTIONAL, Point, default_data, load
from .report import render

__all__ = ["COLUMNS", "GRID", "OPTIONAL", "Point", "Validation", "default_data", "fit_profiles", "load", "render",
           "report", "run"]

#: The engine CPU times the fit searches, in each quantity's unit (ms, us/sequence, ms).
#: Each range is what an engine's CPU plausibly costs (a wider grid fits model error as overhead: the held-out
#: error grew from 34% to 36% when it reached 10 ms and 200 us).
GRID = {"step_overhead": (0, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.3, 1.7, 2.2, 3.0),
        "engine_request_overhead": (0, 1, 2, 4, 7, 10, 15, 25, 40),
        "api_overhead": (0, 5, 10, 20, 40, 80, 160, 320)}
MISS = 3.0  # |ln ratio| charged to a grid point that cannot serve the workload (e^3: 20x off)


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


def _predict(p: Point, mode: str) -> float | None:
    s = dict(p.serve)
    s.pop("workload_text", None)
    try:
        out = serve(p.row["model"], p.row["chip"], engine=p.engine, **s)
        value = out.evaluations[mode].quantity(p.quantity).to(p.unit).magnitude * p.scale
    except InputError as exc:
        p.skipped = str(exc)
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


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
    compiled = _compiled(p.row["model"], p.row["chip"], p.engine, fixed, (*GRID, *numeric), p.quantity)
    axes = numpy.meshgrid(*(numpy.asarray(v, dtype=float) * REGISTRY.get(n).factor for n, v in GRID.items()),
                          indexing="ij")
    result = compiled(**{n: a.ravel() for n, a in zip(GRID, axes, strict=True)}, **numeric)
    unit = table().specs[p.quantity].unit_text
    values = numpy.array(result[p.quantity], dtype=float) / REGISTRY.get(p.quantity).factor
    values = values * Q_(1, unit).to(p.unit).magnitude * p.scale
    values[(result[FIT] < 0.5) | (result["serve_kv_holds_a_request"] < 0.5)] = numpy.nan
    return values


def _best(points: list[Point], grids: dict[int, numpy.ndarray]) -> tuple[int, float]:
    """The grid point with the least mean |ln(measured / predicted)| over ``points``, and that loss.

    Each source weighs the same, however many points it publishes (one benchmark table of 200 rows
    should not outvote ten sources of ten).
    """
    logs = numpy.array([numpy.abs(numpy.log(p.measured / grids[id(p)])) for p in points])
    sizes = Counter(p.group for p in points)
    weights = numpy.array([1 / sizes[p.group] for p in points])
    loss = (numpy.where(numpy.isfinite(logs), logs, MISS) * weights[:, None]).sum(axis=0) / weights.sum()
    i = int(numpy.argmin(loss))
    return i, float(loss[i])


def _values(i: int) -> dict[str, float]:
    at = numpy.unravel_index(i, [len(v) for v in GRID.values()])
    return {n: float(v[k]) for (n, v), k in zip(GRID.items(), at, strict=True)}


def run(path: str | Path | None = None, progress: Callable[[int, int], None] | None = None,
        fit: bool = True) -> Validation:
    """Every point predicted in bound and estimate mode, and (with ``fit``) held out by source.

    Without ``fit`` the points are predicted with the shipped profiles only: the way to score a set of
    points the profiles never saw (a held-back set). A file already run in this process (same size and
    time) is not run again.
    """
    where = Path(path) if path is not None else default_data()
    try:
        stat = where.stat()
        key = (str(where.resolve()), stat.st_mtime_ns, stat.st_size, fit)
    except OSError:
        key = None
    if key in _RUNS:
        return _RUNS[key]
    out = _run(path, progress, fit)
    if key is not None:
        _RUNS[key] = out
    return out


_RUNS: dict[tuple, Validation] = {}


def _run(path: str | Path | None, progress: Callable[[int, int], None] | None, fit: bool) -> Validation:
    points = load(path)
    todo = [p for p in points if p.skipped is None]
    grids: dict[int, numpy.ndarray] = {}
    for n, p in enumerate(todo):
        p.bound = _predict(p, "bound")
        if p.skipped is None and p.bound:
            p.estimate = _predict(p, "estimate")
            if not fit:
                continue
            try:
                grids[id(p)] = _grid(p)
            except (InputError, ValueError) as exc:  # sympy refuses a Max over an unpublished (nan) value
                p.skipped, p.bound, p.estimate = str(exc), None, None
        if progress is not None:
            progress(n + 1, len(todo))
    done = [p for p in todo if id(p) in grids]
    if not fit:
        return Validation(points, {})
    fitted = {}
    for engine in sorted({p.engine for p in done}):
        own = [p for p in done if p.engine == engine]
        i, loss = _best(own, grids)
        fitted[engine] = (_values(i), math.exp(loss) - 1, len(own))
    for group in {p.group for p in done}:
        rest = [p for p in done if p.group != group]
        for engine in {p.engine for p in done if p.group == group}:
            train = [p for p in rest if p.engine == engine] or rest  # no other source of this engine: all others
            if not train:
                continue
            i, _ = _best(train, grids)
            for p in done:
                if p.group == group and p.engine == engine:
                    value = grids[id(p)][i]
                    p.held_out = float(value) if math.isfinite(value) else None
    return Validation(points, fitted)


def fit_profiles(path: str | Path | None = None) -> dict[str, tuple[dict[str, float], float, int]]:
    """Per engine: the CPU times that fit every point of the dataset best, their error and the points."""
    return run(path).fitted


def report(path: str | Path | None = None, fmt: str = "table", show_rows: bool = True,
           progress: Callable[[int, int], None] | None = None, fit: bool = True) -> str:
    """The validation report: per point, and the error per metric, family, engine and mode."""
    return render(run(path, progress, fit), fmt, show_rows)
