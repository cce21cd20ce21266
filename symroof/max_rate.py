"""The highest request rate whose replayed percentiles meet limits as users state them (issue 30, item 2).

A service level is stated as percentiles: p99 time to first token under 2 s, p99 time per output token under
200 ms. The closed form predicts means, so it cannot answer it; the replay (:mod:`symroof.replay`) can, one
rate at a time. :func:`max_rate` searches the open-loop (Poisson) rate, in each mode, in closed-form-guided
steps: the first rate tried is the closed form's ``max_request_rate_for_itl`` at the tightest TPOT limit (a
percentile is at least the mean, so the answer lies at or below it) capped by ``saturation_request_rate``
(beyond it the engine does not keep up); from there it doubles up or halves down until the rates bracket the
answer, then bisects over replays until the bracket is narrower than ``tolerance`` of the rate. The arrivals
come from one seed and scale with the rate (the same draws, shorter gaps), so the answer is deterministic.

TPOT is vLLM's per request, (e2e - TTFT) / (output - 1) (the replay's ``itl``); TTFT the replay's ``ttft``.
The answer is the highest rate tried that met every limit: the next rate up, at most ``tolerance`` higher,
missed one (named in :attr:`Found.binding`). Percentiles need not rise strictly with the rate in a finite run,
so a rate between two tried may miss where both ends meet; the search assumes they rise.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pint

from . import catalog
from .core.errors import InputError
from .core.units import parse_unit, ureg
from .core.values import NUMBER_RE
from .replay import Benchmark, Replayed, replay
from .serve import serve

#: The metrics a limit may hold: the option's word -> the replay's per-request metric.
METRICS = {"ttft": "ttft", "tpot": "itl"}
TOLERANCE, REQUESTS = 0.01, 1000
MODES = ("bound", "estimate")
#: How far below the first rate the search goes before it gives up (a limit met by no rate it tries).
FLOOR = 1e-4
LIMIT_NAME = re.compile(r"^(ttft|tpot|itl)_p(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Limit:
    """``metric`` (ttft or tpot) at ``percentile`` at most ``seconds``; ``text`` as given."""

    metric: str
    percentile: float
    seconds: float
    text: str

    @property
    def name(self) -> str:
        return f"{self.metric}_p{self.percentile:g}"

    @property
    def option(self) -> str:
        return f"--{self.metric}-p{self.percentile:g}"

    @property
    def measured(self) -> str:
        """The replay's quantity the limit reads (``itl_p99`` for ``tpot_p99``)."""
        return f"{METRICS[self.metric]}_p{self.percentile:g}"

    def value(self, r: Replayed) -> float:
        """The limit's percentile in ``r`` (seconds)."""
        return r.summary(METRICS[self.metric], f"p{self.percentile:g}")


def limit(metric: str, percentile: Any, value: Any) -> Limit:
    """One limit: ``limit("ttft", 99, "2 s")``; a percentile inside (0, 100), a time above zero with its unit."""
    metric = {"itl": "tpot"}.get(metric, metric)
    if metric not in METRICS:
        raise InputError(f"a limit on {metric!r}: limits hold ttft or tpot, like --ttft-p99 2s or --tpot-p99 200ms")
    try:
        p = float(percentile)
    except (TypeError, ValueError):
        raise InputError(f"--{metric}-percentile {percentile!r}: give a percentile, like 99") from None
    option = f"--{metric}-p{percentile}"
    if not 0 < p < 100:
        raise InputError(f"{option}: a percentile lies strictly between 0 and 100, like --{metric}-p99 or "
                         f"--{metric}-p99.9")
    example = "2s" if metric == "ttft" else "200ms"
    if isinstance(value, pint.Quantity):
        if value._REGISTRY is not ureg:
            raise InputError(f"{option}: use symroof.ureg quantities, not another pint registry")
        magnitude, unit, text = float(value.magnitude), value.units, f"{value:~}"
    else:
        text = str(value).strip()
        match = NUMBER_RE.match(text)
        if not match:
            raise InputError(f"{option} {text!r}: give a time with its unit, like {option} {example}")
        if not match.group(2):
            raise InputError(f"{option} {text!r}: give the unit too, like {option} {example}")
        magnitude, unit = float(match.group(1)), parse_unit(match.group(2))
    if unit.dimensionality != ureg.second.dimensionality:
        raise InputError(f"{option} {text!r}: a limit is a time, like {option} {example}")
    seconds = float(ureg.Quantity(magnitude, unit).to("second").magnitude)
    if not 0 < seconds < math.inf:
        raise InputError(f"{option} {text!r}: a limit must be a time above zero and finite, like {option} {example}")
    return Limit(metric, p, seconds, text)


def parse_limits(limits: Mapping[str, Any] | list[Limit]) -> tuple[Limit, ...]:
    """``{"ttft_p99": "2 s", "tpot_p99": "200 ms"}`` (or :class:`Limit`\\ s): each once, at least one."""
    out: list[Limit] = []
    items = limits.items() if isinstance(limits, Mapping) else [(None, x) for x in limits]
    for key, value in items:
        if key is None:
            given = value
        else:
            m = LIMIT_NAME.match(str(key))
            if m is None:
                raise InputError(f"limit {key!r}: name it ttft_pNN or tpot_pNN, like ttft_p99 or tpot_p90")
            given = limit(m.group(1), m.group(2), value)
        twice = next((x for x in out if (x.metric, x.percentile) == (given.metric, given.percentile)), None)
        if twice is not None:
            raise InputError(f"{given.option} is given twice ({twice.text} and {given.text}); give it once")
        out.append(given)
    if not out:
        raise InputError("--max-rate needs a limit to meet: --ttft-p99 2s, --tpot-p99 200ms or both (any percentile, "
                         "like --ttft-p90)")
    return tuple(out)


@dataclass
class Found:
    """One mode's answer: ``rate`` (requests/s), the replay there, and how the search got it."""

    mode: str
    rate: float
    replayed: Replayed
    saturation: float  # the closed form's saturation_request_rate (requests/s)
    first: float  # the first rate tried (the closed form's guide)
    everywhere: bool  # every limit met at the saturation rate: the answer is that rate
    binding: dict[str, float] = field(default_factory=dict)  # limits missed just above: name -> value there (s)
    above: float | None = None  # the rate just above that missed them
    tried: int = 0  # replays run


@dataclass
class MaxRate:
    """The highest request rate meeting ``limits`` in each mode (:attr:`found`), with the search's settings."""

    model: str
    hardware: str
    engine: str
    input_length: float
    output_length: float
    limits: tuple[Limit, ...]
    tolerance: float
    benchmark: Benchmark
    found: dict[str, Found]
    alone: dict[str, dict[str, float]]  # mode -> one idle request's ttft and tpot (s)
    itl_rate: dict[str, float] = field(default_factory=dict)  # max_request_rate_for_itl at the tightest TPOT

    def value(self, name: str, mode: str) -> float:
        """``max_request_rate`` (requests/s) or a replay quantity at that rate (base units) in ``mode``."""
        f = self.found[mode]
        if name == "max_request_rate":
            return f.rate
        m = LIMIT_NAME.match(name)
        if m is not None:
            return limit(m.group(1), m.group(2), "1 s").value(f.replayed)
        return f.replayed.values()[name]

    def notes(self, mode: str) -> list[str]:
        f = self.found[mode]
        if f.everywhere:
            return [f"every limit holds at every rate up to the closed form's saturation rate ({f.saturation:.4g} "
                    "requests/s), where the engine stops keeping up: the answer is that rate"]
        missed = ", ".join(f"{n} {v * 1e3:.4g} ms" for n, v in f.binding.items())
        return [f"the next rate tried above, {f.above:.4g} requests/s ({f.above / f.rate - 1:+.2%}), misses {missed}"]

    def to_dict(self) -> dict:
        """JSON: the search's settings, and per mode the rate, the throughput and the percentiles there."""
        out: dict[str, Any] = {
            "model": self.model, "hardware": self.hardware, "engine": self.engine,
            "input_length": self.input_length, "output_length": self.output_length,
            "limits": [{"name": x.name, "metric": x.metric, "percentile": x.percentile, "value": x.seconds,
                        "unit": "second", "measured_as": x.measured} for x in self.limits],
            "tolerance": self.tolerance, "requests": len(next(iter(self.found.values())).replayed.inputs),
            "seed": self.benchmark.seed, "arrivals": self.benchmark.arrivals}
        for mode, f in self.found.items():
            r = f.replayed
            source = f"bisection over replays to {self.tolerance:.0%} of the rate; {r.description}"
            factor, unit, _ = r.units["request_throughput"]
            q = {"max_request_rate": {"value": f.rate / factor, "unit": unit, "kind": "replay", "formula": None,
                                      "source": source}}
            q.update(r.quantities())
            for x in self.limits:  # a percentile the replay does not report by default (p95, p99.9)
                if x.measured not in q:
                    factor, unit, _ = r.units[METRICS[x.metric]]
                    q[x.measured] = {"value": x.value(r) / factor, "unit": unit, "kind": "replay", "formula": None,
                                     "source": r.description}
            closed = {"saturation_request_rate": f.saturation, "max_request_rate_for_itl": self.itl_rate.get(mode)}
            q.update({n: {"value": v / factor, "unit": unit, "kind": "solved", "formula": None,
                          "source": "the closed form (symroof/model/engine_thresholds.py)" + (
                              ", at a mean TPOT of the tightest TPOT limit" if "itl" in n else "")}
                      for n, v in closed.items() if v is not None})
            out[mode] = {"quantities": q, "search": {
                "saturated": f.everywhere, "first_rate": f.first / factor, "rate_above": (
                    f.above / factor if f.above is not None else None), "rate_unit": unit,
                "binding": dict(f.binding), "alone": self.alone[mode], "time_unit": "second", "replays": f.tried},
                "notes": self.notes(mode)}
        return out


def _per_second(x: Any) -> float:
    """A rate from ``Served.value`` (a number in requests/s, or a quantity)."""
    return float(x.to("sequence/s").magnitude) if hasattr(x, "to") else float(x)


def _number(x: Any) -> float:
    """Tokens per request from ``Served.value`` (a number, or a quantity)."""
    return float(x.to("token/sequence").magnitude) if hasattr(x, "to") else float(x)


def max_rate(model: Any, hardware: Any, input_length: float, output_length: float,
             limits: Mapping[str, Any] | list[Limit], *, overrides: Mapping[str, Any] | None = None,
             engine: str = "vllm", calibration: str | None = None, requests: int | None = None, seed: int = 0,
             benchmark: Benchmark | None = None, tolerance: float = TOLERANCE) -> MaxRate:
    """The highest open-loop request rate whose replayed percentiles meet every limit, in both modes.

    ``limits``: ``{"ttft_p99": "2 s", "tpot_p99": "200 ms"}`` (any percentile in (0, 100)). ``benchmark``
    (lengths, spread, arrivals) is replayed with ``requests`` requests (default 1,000) from ``seed``.

    >>> max_rate("llama-3.1-8b", "h100", 1024, 256, {"ttft_p99": "2 s", "tpot_p99": "20 ms"}).value(
    ...     "max_request_rate", "estimate")
    """
    given = parse_limits(limits)
    if not 0 < tolerance < 1:
        raise InputError(f"tolerance {tolerance!r}: give a share of the rate between 0 and 1, like 0.01")
    overrides = dict(overrides or {})
    for name in ("request_rate", "workload", "concurrency"):
        if name in overrides:
            raise InputError(f"--set {name} with --max-rate: the search sets the open loop's rate itself")
    bench = benchmark or Benchmark(seed=seed)  # a benchmark given carries its own seed
    if requests is not None or (bench.requests is None and bench.lengths is None):
        bench = dataclasses.replace(bench, requests=requests if requests is not None else REQUESTS)
    m = model if isinstance(model, catalog.Entry) else catalog.load("model", model)
    h = hardware if isinstance(hardware, catalog.Entry) else catalog.load("hardware", hardware)
    tpots = [x.seconds for x in given if x.metric == "tpot"]
    guide = dict(overrides)
    if tpots and "target_step_time" not in guide:  # the closed form's rate at a mean TPOT of the tightest limit
        guide["target_step_time"] = f"{min(tpots) * 1e3!r} ms"

    def served(rate: float):
        return serve(m, h, input_length, output_length, rate=rate, engine=engine, calibration=calibration,
                     overrides=guide)

    first = served(1.0)
    saturation = {mode: _per_second(first.value("saturation_request_rate", mode)) for mode in MODES}
    itl_rate = {mode: _per_second(first.value("max_request_rate_for_itl", mode)) for mode in MODES} if tpots else {}
    alone = {mode: _alone(first.evaluations[mode]) for mode in MODES}
    _check_alone(given, alone)
    found = {}
    for mode in MODES:
        start = min(saturation[mode], itl_rate.get(mode) or saturation[mode])
        if not start > 0:
            start = saturation[mode]
        found[mode] = _search(lambda rate, mode=mode: replay(served(rate).evaluations[mode], bench), given,
                              mode, start, saturation[mode], tolerance)
    lengths = [_number(first.value(n, "bound")) for n in ("input_length", "output_length")]
    return MaxRate(m.id, h.id, first.engine, *lengths, given, tolerance, bench, found, alone, itl_rate)


def _alone(ev) -> dict[str, float]:
    """What one request alone takes (s): its TTFT and its TPOT, at the mean lengths."""
    r = replay(ev, Benchmark(requests=1))
    return {"ttft": float(r.ttft[0]), "tpot": float(r.itl[0])}


def _check_alone(limits: tuple[Limit, ...], alone: dict[str, dict[str, float]]) -> None:
    """A limit below what one idle request takes is met at no rate: say what it takes and what would work."""
    for x in limits:
        took = {mode: a[x.metric] for mode, a in alone.items()}
        if any(math.isnan(t) for t in took.values()):
            raise InputError(f"{x.option} with one output token per request: such a request has no time per output "
                             "token; give --output 2 or more, or leave the TPOT limit out")
        if all(x.seconds >= t for t in took.values()):
            continue
        values = sorted(set(took.values()))
        said = (f"{values[0] * 1e3:.4g} ms" if len(values) == 1 else
                ", ".join(f"{t * 1e3:.4g} ms {mode}" for mode, t in took.items()))
        most = max(took.values())
        raise InputError(f"{x.option} {x.text}: one request alone takes {said} ({x.metric.upper()}, an idle engine); "
                         f"no rate meets the limit: give at least {_up(most * 1e3)} ms")


def _up(ms: float) -> str:
    """``ms`` rounded up to 3 significant figures, as text."""
    digits = 2 - int(math.floor(math.log10(ms))) if ms > 0 else 0
    return f"{math.ceil(ms * 10 ** digits) / 10 ** digits:g}"


def _missed(limits: tuple[Limit, ...], r: Replayed) -> dict[str, float]:
    """The limits ``r`` misses: name -> its value (s)."""
    out = {}
    for x in limits:
        value = x.value(r)
        if not value <= x.seconds:
            out[x.name] = value
    return out


def _search(run, limits: tuple[Limit, ...], mode: str, start: float, saturation: float, tolerance: float) -> Found:
    """Bracket the highest rate meeting ``limits`` from ``start`` (doubling up to ``saturation``, or halving),
    then bisect geometrically until the bracket is within ``tolerance`` of the rate."""
    tried = 0

    def attempt(rate: float) -> tuple[Replayed, dict[str, float]]:
        nonlocal tried
        tried += 1
        r = run(rate)
        return r, _missed(limits, r)

    r, missed = attempt(start)
    if not missed:  # met: go up until a rate misses, or saturation meets too
        lo, lo_r = start, r
        while True:
            if lo >= saturation * (1 - 1e-12):
                return Found(mode, lo, lo_r, saturation, start, True, tried=tried)
            rate = min(saturation, 2 * lo)
            r, missed = attempt(rate)
            if missed:
                hi, hi_missed = rate, missed
                break
            lo, lo_r = rate, r
    else:  # missed: go down until a rate meets
        hi, hi_missed = start, missed
        while True:
            rate = hi / 2
            if rate < start * FLOOR:
                said = ", ".join(f"{n} {v * 1e3:.4g} ms" for n, v in hi_missed.items())
                raise InputError(f"{mode}: no rate meets the limits down to {hi:.3g} requests/s ({said} there): "
                                 "the lengths' spread or the engine's caps keep them out of reach; loosen them")
            r, missed = attempt(rate)
            if not missed:
                lo, lo_r = rate, r
                break
            hi, hi_missed = rate, missed
    while hi - lo > tolerance * lo:
        rate = math.sqrt(lo * hi)
        r, missed = attempt(rate)
        if missed:
            hi, hi_missed = rate, missed
        else:
            lo, lo_r = rate, r
    return Found(mode, lo, lo_r, saturation, start, False, hi_missed, hi, tried)
