"""Sweeps: the declared formulas over grids of inputs, compiled once to vectorised numpy.

For one model, chip and set of dtypes, every quantity that does not depend on
a varied input is evaluated once as a number; the requested quantities are
then opened down to the varied inputs, with those numbers folded in, and
compiled together by ``lambdify`` (shared subexpressions computed once). What
runs per point is about what one would write by hand.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy
import pandas
import sympy

from . import catalog
from .compile import numeric, rebuild, resolve_choices
from .errors import InputError
from .evaluate import evaluate, parse_overrides, resolve_input
from .printing.numpy import codegen
from .quantity import REGISTRY
from .symbolic import formula_for
from .units import unit_text
from .values import parse_value

#: Quantities a sweep reports when none are named.
DEFAULT_QUANTITIES = ("step_time", "step_time_kv", "step_time_flops", "step_time_params", "tokens_per_second",
                      "tokens_per_second_per_chip", "cost_per_million_tokens")
FIT = ("total_memory_bytes", "hbm_total_bytes")  # always computed: does the point fit in HBM?
CHUNK = 2_000_000  # points evaluated at once (bounds the memory of the intermediates)


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
        return {n: numpy.broadcast_to(numpy.asarray(r, dtype=float), shape) for n, r in zip(self.targets, results,
                                                                                             strict=True)}


def compile_sweep(model: str | catalog.Entry, hardware: str | catalog.Entry, varied: Sequence[str],
                  targets: Sequence[str], overrides: Mapping[str, Any] | None = None) -> CompiledSweep:
    """Compile ``targets`` as functions of the numeric inputs ``varied``; everything else is fixed.

    ``overrides`` (as for :func:`symroof.evaluate`) fix inputs, pin derived
    quantities and choose dtypes. Each target is opened down to inputs; fixed
    inputs become numbers that sympy folds, so only the varied ones remain.
    """
    m = model if isinstance(model, catalog.Entry) else catalog.load("model", model)
    h = hardware if isinstance(hardware, catalog.Entry) else catalog.load("hardware", hardware)
    for name in varied:
        q = REGISTRY.get(name)
        if q.kind != "input" or q.categorical:
            raise InputError(f"--vary {name}: only numeric inputs vary within one compiled sweep")
    given = parse_overrides({k: v for k, v in (overrides or {}).items() if k not in varied})
    opener = _Opener(m, h, given, frozenset(varied))
    exprs = tuple(opener.open(REGISTRY.get(t).symbol) for t in targets)
    symbols = [REGISTRY.get(n).symbol for n in varied]
    return CompiledSweep(tuple(varied), tuple(targets), codegen(symbols, list(exprs), "_sweep"), exprs)


class _Opener:
    """Opens quantities down to the varied inputs; every other input becomes its number."""

    def __init__(self, model: catalog.Entry, hardware: catalog.Entry, given: dict[str, Any],
                 varied: frozenset[str]) -> None:
        self.entries = (model, hardware)
        self.given = given
        self.varied = varied
        self.memo: dict[str, sympy.Expr] = {}

    def open(self, symbol: sympy.Symbol) -> sympy.Expr:
        name = symbol.name
        if name not in self.memo:
            self.memo[name] = self._open(REGISTRY.get(name))
        return self.memo[name]

    def _open(self, q) -> sympy.Expr:
        if q.name in self.varied:
            return q.symbol
        if q.kind == "constant":
            return numeric(q.symbol)
        if q.name in self.given or q.kind == "input":
            origin, value = resolve_input(q, self.given, self.entries)
            if origin != "rule":
                return value if q.categorical else sympy.Float(float(value), 17)
            expr = value
        else:
            expr = formula_for(q.name, self.given)
        choices = {d.name: self.open(d.symbol) for d in q.dependencies if d.categorical}
        expr = resolve_choices(expr, choices)
        return rebuild(expr, {s: self.open(s) for s in expr.free_symbols})


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
        if q.at_most is not None and numpy.any(numbers > q.at_most):
            parse_value(q, float(numbers.max()), where)
        return numbers * q.factor
    return numpy.asarray([parse_value(q, v, where) for v in raw], dtype=float)


def sweep(models: str | Sequence[str], hardware: str | Sequence[str], vary: Mapping[str, Sequence[Any]],
          overrides: Mapping[str, Any] | None = None, quantities: Sequence[str] | None = None,
          drop_unfit: bool = False, progress: Callable[[int, int], None] | None = None) -> pandas.DataFrame:
    """Evaluate ``quantities`` over the grid of ``vary`` (every combination), one row per point.

    ``vary`` maps input names to values (numbers in the quantity's unit, text
    with a unit, or dtype names); ``models`` and ``hardware`` may be lists of
    catalog ids. Rows whose parameters plus KV do not fit in HBM are marked in
    the ``fits`` column, or dropped with ``drop_unfit``. Units are recorded per
    column in ``frame.attrs["units"]``. Without ``quantities``, the default
    ones that a chip cannot give (cost without a price) are left out and
    named in ``frame.attrs["unavailable"]``.
    """
    models = [models] if isinstance(models, str) else list(models)
    hardware = [hardware] if isinstance(hardware, str) else list(hardware)
    if not vary:
        raise InputError("nothing to vary: give at least one --vary NAME=VALUES")
    unavailable: dict[str, str] = {}
    if quantities is None:
        quantities = list(DEFAULT_QUANTITIES)
        for model, chip in itertools.product(models, hardware):
            probe = evaluate(model, chip, {k: v for k, v in (overrides or {}).items() if k not in vary})
            unavailable.update({q: probe.unavailable[q] for q in quantities if q in probe.unavailable})
        quantities = [q for q in quantities if q not in unavailable]
    for name in quantities:
        if REGISTRY.get(name).kind == "constant":
            raise InputError(f"{name} is a constant")
    categorical = {n: _values(n, v) for n, v in vary.items() if REGISTRY.get(n).categorical}
    numeric_axes = {n: _values(n, v) for n, v in vary.items() if not REGISTRY.get(n).categorical}
    for n, v in vary.items():
        if len(v) == 0:
            raise InputError(f"--vary {n}: no values")
    grids = numpy.meshgrid(*numeric_axes.values(), indexing="ij") if numeric_axes else []
    columns = {n: g.ravel() for n, g in zip(numeric_axes, grids, strict=True)}
    points = next(iter(columns.values())).size if columns else 1
    targets = tuple(dict.fromkeys(list(quantities) + list(FIT)))
    combos = list(itertools.product(models, hardware, *categorical.values()))
    total = len(combos) * points
    done = 0
    frames = []
    for combo in combos:
        model, chip, *choices = combo
        fixed = {**(overrides or {}), **dict(zip(categorical, choices, strict=True))}
        compiled = compile_sweep(model, chip, tuple(numeric_axes), targets, fixed)
        parts = []
        for start in range(0, points, CHUNK):
            chunk = {n: c[start:start + CHUNK] for n, c in columns.items()}
            parts.append(compiled(**chunk) if chunk else compiled())
            done += min(CHUNK, points - start)
            if progress is not None:
                progress(done, total)
        result = {t: numpy.concatenate([numpy.atleast_1d(p[t]) for p in parts]) if len(parts) > 1
                  else numpy.atleast_1d(parts[0][t]) for t in targets}
        labels = {"model": model, "hardware": chip, **dict(zip(categorical, choices, strict=True))}
        frame = {k: pandas.Categorical.from_codes(numpy.zeros(points, dtype=numpy.int8), [v])
                 for k, v in labels.items()}
        for n, c in columns.items():
            frame[n] = c / REGISTRY.get(n).factor
        for t in quantities:
            frame[t] = result[t] / REGISTRY.get(t).factor
        frame["fits"] = result["total_memory_bytes"] <= result["hbm_total_bytes"]
        frames.append(pandas.DataFrame(frame, index=pandas.RangeIndex(points)))
    out = pandas.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for k in ("model", "hardware", *categorical):  # one category set across the combinations
        out[k] = out[k].astype(str).astype("category") if len(frames) > 1 else out[k]
    if drop_unfit:
        out = out[out["fits"]].reset_index(drop=True)
    out.attrs["units"] = {c: unit_text(REGISTRY.get(c).unit) for c in out.columns if c in REGISTRY}
    out.attrs["unavailable"] = unavailable
    return out


def pareto(frame: pandas.DataFrame, x: str = "step_time", y: str = "tokens_per_second_per_chip",
           by: str | Sequence[str] | None = "context_length", maximize_y: bool = True) -> pandas.DataFrame:
    """The non-dominated rows: lower ``x`` and higher ``y`` (lower with ``maximize_y=False``), per ``by`` group.

    Rows that do not fit in HBM never make the frontier.
    """
    rows = frame[frame["fits"]] if "fits" in frame else frame
    keys = [by] if isinstance(by, str) else list(by or [])
    groups = rows.groupby(keys, sort=True) if keys else [((), rows)]
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
