"""The configuration search (issue 18): every layout of a chip that can serve a model, scored at once.

The space: slices of the chip (powers of two from its smallest slice; a TPU has no 2-chip slice) from the
smallest that holds the weights up to four times that or two scale-up domains, whichever is more. On each slice
the layouts the engines run and the step model prices: every tensor-parallel degree that splits the attention
heads and stays inside one scale-up domain, pipeline stages for the rest (a stage adds no bandwidth to a token's
path), and for a mixture of experts also the wide layout across domains (attention data-parallel, experts over
the slice); every expert-parallel group that divides the slice and the experts, every attention-data-parallel
degree that divides the tensor-parallel group (with experts spread). Only when nothing meets the targets is
tensor parallelism let across domains, in a second pass that says so. Weights stay in
the model's own dtypes unless ``allow_dtype`` lets them vary. A layout setting the user pins (``n_chips``,
``tensor_parallel``, ...) holds that coordinate.

Scoring is one vectorised evaluation per dtype through the compiled functions (no sympy): the batch each layout
prices (the closed-form latency batch), the fewest prefill replicas meeting the TTFT percentile (a bisection
over all layouts at once; the Erlang C wait falls as replicas are added), and the fleets' cost. The closed
forms prune: a slice that cannot hold the weights, or where the weights alone miss the per-token target, is
scored once and drops out with that reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy
import pandas

from . import catalog
from .core.errors import InputError
from .derive import table
from .engine_settings import engine_of, for_mode
from .evaluation import Evaluation, load_calibration, parse_overrides
from .evaluation.text import number, quantity
from .layouts import LAYOUT, MAX_CHIPS, MAX_CONFIGURATIONS, space  # noqa: F401 (the search's public names)

#: Prefill load (busy replicas) beyond which the M/M/c queue is not planned: Erlang C's recursion is linear in it.
MAX_PREFILL_LOAD = 10_000
#: What a scored configuration reports (the plan's own quantities).
REPORTED = ("plan_batch_size", "priced_step_time", "plan_time_per_token", "plan_tokens_per_second_per_user",
            "decode_replicas", "colocated_replicas",
            "prefill_replicas", "chips_for_traffic", "monthly_cost", "cost_per_million_output_tokens",
            "cost_per_million_input_tokens", "ttft_at_percentile", "request_prefill_time", "kv_transfer_time",
            "prefill_offered_load", "power_draw")
#: How configurations rank.
ORDER = ["meets", "monthly_cost", "chips_for_traffic", "ttft_at_percentile", "pipeline_parallel", "expert_parallel",
         "attention_data_parallel"]
#: How a fleet serves prompts: a prefill fleet of its own, or prefill chunks in the decode replicas' steps.
SERVING_MODES = ("disaggregated", "colocated")
#: A frontier row's batches: powers of two up to the largest that fits.
FRONTIER_BATCHES = tuple(2.0 ** k for k in range(14))


@dataclass
class Scored:
    """Every configuration scored, cheapest first; ``meets`` marks those meeting every target, ``why`` the rest."""

    model: str
    hardware: str
    mode: str
    frame: pandas.DataFrame  # one row per configuration: the layout, weight_dtype, REPORTED, meets, why
    pruned: list[str]

    @property
    def best(self) -> pandas.Series | None:
        ok = self.frame[self.frame["meets"]]
        return None if ok.empty else ok.iloc[0]

    def runners_up(self, k: int = 5) -> list[tuple[str, str]]:
        """The best configuration of each other slice and dtype, then those that miss, each with why it lost
        (what it costs more, or the target it misses); at most ``k``."""
        best = self.best
        seen = set() if best is None else {(best["n_chips"], best["weight_dtype"], best["serving_mode"])}
        out = []
        for _, row in self.frame.iterrows():
            key = (row["n_chips"], row["weight_dtype"], row["serving_mode"])
            if key in seen:
                continue
            seen.add(key)
            why = _lost(row, best) if row["meets"] and best is not None else row["why"]
            out.append((describe(row), why))
            if len(out) == k:
                break
        return out

    def layout(self, row: pandas.Series) -> dict[str, str]:
        """The settings that pin ``row``'s layout (text, as --set takes them)."""
        out = {n: f"{row[n]:g}" for n in LAYOUT}
        if row["weight_dtype"]:
            out["weight_dtype"] = row["weight_dtype"]
            if row["expert_dtype"]:
                out["expert_dtype"] = row["expert_dtype"]
        if row["compute_dtype"]:
            out["compute_dtype"] = row["compute_dtype"]
        out["serving_mode"] = row["serving_mode"]
        return out


def describe(row: Mapping[str, Any]) -> str:
    """A layout in words, like "8 chips: TP8 EP8 ADP8, fp8"."""
    parts = [f"TP{row['tensor_parallel']:g}"]
    parts += [f"{tag}{row[n]:g}" for tag, n in (("PP", "pipeline_parallel"), ("EP", "expert_parallel"),
                                                 ("ADP", "attention_data_parallel")) if row[n] > 1]
    dtype = f", {row['weight_dtype']}" if row.get("weight_dtype") else ""
    serving = f", {row['serving_mode']}" if row.get("serving_mode") else ""
    return f"{row['n_chips']:g} chip{'s' if row['n_chips'] != 1 else ''}: {' '.join(parts)}{dtype}{serving}"


def described(ev: Evaluation) -> str:
    """An evaluation's layout in words, as :func:`describe` writes a scored row (the effective degrees)."""
    names = ("n_chips", "tensor_parallel_size", "pipeline_stages", "expert_parallel", "attention_data_parallel")
    row = dict(zip(LAYOUT, (float(ev.magnitude(n)) for n in names), strict=True))
    return describe({**row, "weight_dtype": ev.magnitude("weight_dtype"), "serving_mode": ev.magnitude("serving_mode")})


def _dtypes(model: catalog.Entry, settings: Mapping[str, Any], allow: Sequence[str]) -> list[tuple[str, str]]:
    """(weight_dtype, expert_dtype) pairs; ("", "") is the model's own."""
    choices = table().get("weight_dtype").choices or ()
    for d in allow:
        if d not in choices:
            raise InputError(f"--allow-dtype {d!r}: choose among {', '.join(choices)}")
    if allow and ("weight_dtype" in settings or "expert_dtype" in settings):
        raise InputError("--allow-dtype lets the weight dtype vary, and --set pins it; give one of them")
    moe = model.values.get("mlp") == "moe"
    return [("", "")] + [(d, d if moe else "") for d in dict.fromkeys(allow)]


def fewest_prefill_replicas(at: Callable[[numpy.ndarray], Evaluation], ev: Evaluation) -> numpy.ndarray:
    """The fewest prefill replicas whose TTFT at the percentile meets its target, for every point of ``ev``
    at once (nan where none can: a prompt's prefill and KV transfer alone miss it, or the load is beyond
    MAX_PREFILL_LOAD). ``at(replicas)`` evaluates the same points with those replicas."""
    load = _array(ev, "prefill_offered_load")
    floor = _array(ev, "request_prefill_time") + _array(ev, "kv_transfer_time")
    load, floor, target = numpy.broadcast_arrays(load, floor, _array(ev, "ttft_target"))
    possible = numpy.isfinite(load) & (floor < target) & (load <= MAX_PREFILL_LOAD)
    return _fewest(at, numpy.where(possible, numpy.floor(load) + 1, 1.0), possible, target,
                   numpy.where(possible, load, 0))


def fewest_colocated_replicas(at: Callable[[numpy.ndarray], Evaluation], ev: Evaluation) -> numpy.ndarray:
    """The fewest colocated replicas, at or above those whose ITL meets the target (``ev``'s default count),
    whose TTFT at the percentile meets its target, for every point of ``ev`` at once (nan where none can: the
    per-token target is out of reach, or a lone prompt's chunks alone miss the TTFT target)."""
    lo = _array(ev, "colocated_replicas")
    feasible = _array(ev, "plan_feasible") > 0
    lo, feasible, floor, target = numpy.broadcast_arrays(lo, feasible, colocated_floor(ev),
                                                         numpy.asarray(ev.base["ttft_target"], dtype=float))
    possible = feasible & numpy.isfinite(lo) & (floor < target) & (lo <= MAX_PREFILL_LOAD)
    return _fewest(at, numpy.where(possible, lo, 1.0), possible, target, numpy.where(possible, lo, 0))


def colocated_floor(ev: Evaluation) -> numpy.ndarray:
    """A lone request's first token on a colocated replica, in seconds: the API's time and its prompt's chunks
    (request_prefill_time), with no wait."""
    return numpy.asarray(ev.base["api_overhead"], dtype=float) + numpy.asarray(ev.base["request_prefill_time"],
                                                                               dtype=float)


def _array(ev: Evaluation, name: str) -> numpy.ndarray:
    return numpy.asarray(ev.magnitude(name), dtype=float)


def _fewest(at, lo: numpy.ndarray, possible: numpy.ndarray, target: numpy.ndarray, scale: numpy.ndarray):
    """The fewest replicas from ``lo`` up whose ttft_at_percentile meets ``target`` (it falls as replicas are
    added): widen in steps from ``scale``, then bisect; nan where not ``possible`` or never met."""

    def met(c: numpy.ndarray) -> numpy.ndarray:
        ttft = numpy.broadcast_to(numpy.asarray(at(c).magnitude("ttft_at_percentile"), dtype=float), c.shape)
        return ttft <= target

    step = numpy.ceil(4 * numpy.sqrt(scale) + 4)
    hi = lo.copy()
    ok = met(hi) | ~possible
    for _ in range(60):  # widen until met: the wait tends to 0, and the target lies above the floor
        if ok.all():
            break
        hi = numpy.where(ok, hi, hi + step)
        step *= 2
        ok = ok | met(hi)
    possible = possible & ok
    while True:  # bisect: hi meets the target, lo - 1 does not
        todo = possible & (lo < hi)
        if not todo.any():
            break
        mid = numpy.where(todo, numpy.floor((lo + hi) / 2), hi)
        good = met(mid)
        hi = numpy.where(todo & good, mid, hi)
        lo = numpy.where(todo & ~good, mid + 1, lo)
    return numpy.where(possible, hi, numpy.nan)


def _evaluation(model, hardware, given: Mapping[str, Any], arrays: Mapping[str, Any], mode: str,
                calibration) -> Evaluation:
    return Evaluation(model, hardware, {**parse_overrides(for_mode(given, mode), "--set "), **arrays}, mode=mode,
                      calibration=calibration, engine=engine_of(hardware))


def _lost(row: Mapping[str, Any], best: Mapping[str, Any]) -> str:
    """Why ``row``, which meets the targets too, lost to ``best``: what it costs more a month, or the tie-break."""
    if not row["unpriced"] and not best["unpriced"]:
        extra = row["monthly_cost"] - best["monthly_cost"]
        if extra > 0:
            return f"costs {quantity(extra, 'USD/month')} more (+{extra / best['monthly_cost']:.1%})"
    chips = row["chips_for_traffic"] - best["chips_for_traffic"]
    unpriced = " (no published price to compare)" if row["unpriced"] else ""
    if chips > 0:
        return f"needs {number(chips)} more chips for the traffic ({number(row['chips_for_traffic'])}){unpriced}"
    same = "costs the same" if not unpriced else "as many chips"
    return (f"{same}, with a longer TTFT ({quantity(row['ttft_at_percentile'], 's')} against "
            f"{quantity(best['ttft_at_percentile'], 's')}){unpriced}")


def _missed(what: str, got: float, target: float, unit: str) -> str:
    """``misses the per-token target by 6.2 ms (41%): 21.2 ms against 15 ms``."""
    return (f"misses the {what} target by {quantity(got - target, unit)} ({(got - target) / target:.0%}): "
            f"{quantity(got, unit)} against {quantity(target, unit)}")


def _why(row: Mapping[str, Any], ttft_target: float, tpot_target: float) -> str:
    if not row["fits_in_hbm"]:
        return "does not fit in HBM (weights and one sequence's KV exceed the slice)"
    if not row["plan_feasible"]:
        return (_missed("per-token", row["priced_step_time"], tpot_target, "ms") + " at its fastest (batch 1)"
                + (", colocated: the step's fixed time alone" if row["serving_mode"] == "colocated" else ""))
    if row["serving_mode"] == "colocated":
        if row["itl_replicas"] > MAX_PREFILL_LOAD:
            return (f"its traffic needs {row['itl_replicas']:,.0f} colocated replicas, beyond the "
                    f"{MAX_PREFILL_LOAD:,} the queue model plans; split the traffic")
        if not numpy.isfinite(row["colocated_replicas"]):
            return (f"misses the TTFT target colocated: a prompt's chunks and the API's time alone, or its wait at "
                    f"any load the queue model plans, exceed {quantity(ttft_target, 's')}")
        return "" if numpy.isfinite(row["monthly_cost"]) or row["unpriced"] else "has no finite cost"
    if row["prefill_offered_load"] > MAX_PREFILL_LOAD:
        return (f"its prefill load of {row['prefill_offered_load']:,.0f} busy replicas is beyond the "
                f"{MAX_PREFILL_LOAD:,} the queue model plans; split the traffic")
    if not numpy.isfinite(row["kv_transfer_time"]):
        return ("cannot check the TTFT target: its prefill and decode replicas do not fit one scale-up domain "
                "together, and the chip publishes no scale_out_bandwidth to move the KV over (set it)")
    if not numpy.isfinite(row["prefill_replicas"]):
        floor = row["request_prefill_time"] + row["kv_transfer_time"]
        return _missed("TTFT", floor, ttft_target, "s") + " with no wait in the queue"
    if not (numpy.isfinite(row["monthly_cost"]) or row["unpriced"]):
        return "has no finite cost"
    return ""


def score(model: str | catalog.Entry, hardware: str | catalog.Entry, settings: Mapping[str, Any] | None = None,
          mode: str = "bound", calibration: str | None = None, allow_dtype: Sequence[str] = (),
          batches: Sequence[float] | None = None) -> Scored:
    """Score every configuration of ``model`` on ``hardware`` for the traffic in ``settings`` (as plan takes
    them), in ``mode``. With ``batches``, each layout is scored at each of those batches too (the frontier:
    the per-token target no longer prunes; ``meets`` still says whether it is met)."""
    m = model if isinstance(model, catalog.Entry) else catalog.load("model", model)
    h = hardware if isinstance(hardware, catalog.Entry) else catalog.load("hardware", hardware)
    settings = dict(settings or {})
    cal = load_calibration(h, calibration) if mode == "estimate" else None
    frames, said, unpriced = [], [], ""
    for wide in (False, True):  # tensor parallelism inside a scale-up domain; across only when nothing meets
        if wide and (any(f["meets"].any() for f in frames) or any(n in settings for n in LAYOUT[:3])):
            break
        for weight, expert in _dtypes(m, settings, allow_dtype):
            given = {**settings, **({"weight_dtype": weight} if weight else {}),
                     **({"expert_dtype": expert} if expert else {})}
            probe = _evaluation(m, h, given, {}, mode, cal)
            if "chip_flops" in probe.unavailable and "compute_dtype" not in given:
                native = probe.magnitude("compute_dtype")  # weight-only quantisation: the matmuls run in bf16
                given["compute_dtype"] = "bf16"
                probe = _evaluation(m, h, given, {}, mode, cal)
                said.append(f"{h.id} publishes no {native} FLOP rate: matmuls in bf16, weights as stored "
                            "(weight-only quantisation)")
            unpriced = probe.unavailable.get("chip_hour_cost", unpriced)
            if unpriced and ("cost_mode" in settings or "rent_kind" in settings):  # a price asked for by name
                raise InputError(f"{m.id} on {h.id}: {unpriced}")
            smallest = float(probe.base["param_bytes"]) / h.values["hbm_capacity"]  # base units: bytes / bytes
            columns, notes = space(m, h, given, smallest, wide)
            if not len(columns["n_chips"]):
                continue
            said += notes
            for serving in _serving_modes(settings, batches):
                frames.append(_score_dtype(m, h, {**given, "serving_mode": serving}, columns, mode, cal, batches,
                                           probe))
                frames[-1]["weight_dtype"], frames[-1]["expert_dtype"] = weight, expert
                frames[-1]["compute_dtype"] = "" if "compute_dtype" in settings else given.get("compute_dtype", "")
    if not frames:
        pins = {n: settings[n] for n in LAYOUT if n in settings}
        _evaluation(m, h, settings, {}, mode, cal)  # a pinned layout the model refuses says why in its words
        raise InputError(f"no layout of {m.id} on {h.id} splits its {m.values.get('n_heads', 0):g} attention "
                         "heads over a slice of this chip"
                         + (f" with {', '.join(f'{k}={v}' for k, v in pins.items())}" if pins else ""))
    if unpriced:
        said.append(f"no cost ({unpriced}): configurations ranked by chips for the traffic")
    pruned = list(dict.fromkeys(said))
    frame = pandas.concat(frames, ignore_index=True)
    # ties on cost go to the fewest chips, the shortest TTFT, then the plainest layout (fewest pipeline stages,
    # then the least expert and attention-data parallelism)
    frame = frame.sort_values(ORDER, ascending=[False, True, True, True, True, True, True], kind="stable",
                              ignore_index=True)
    return Scored(m.id, h.id, mode, frame, pruned)


def _serving_modes(settings: Mapping[str, Any], batches) -> tuple[str, ...]:
    """The serving modes a search scores: the one set, or both; the frontier varies a decode replica's batch, so
    it prices disaggregated fleets (a colocated replica's batch is its share of the traffic)."""
    if "serving_mode" in settings:
        serving = str(settings["serving_mode"]).strip()
        if batches is not None and serving != "disaggregated":
            raise InputError(f"--set serving_mode={serving}: the frontier varies a decode replica's batch, so it "
                             "prices disaggregated fleets; drop the setting (symroof plan scores colocated fleets)")
        return (serving,)
    return ("disaggregated",) if batches is not None else SERVING_MODES


def _score_dtype(m, h, given, columns, mode, cal, batches, probe) -> pandas.DataFrame:
    given = dict(given)
    tpot, ttft = probe.magnitude("target_step_time"), probe.magnitude("ttft_target")
    if batches is not None:  # the frontier: each layout at each batch, priced at that batch
        k = len(columns["n_chips"])
        columns = {n: numpy.repeat(c, len(batches)) for n, c in columns.items()}
        columns["plan_batch_size"] = numpy.tile(numpy.asarray(batches, dtype=float), k)
        given["target_step_time"] = "1e9 ms"  # the frontier trades speed for cost: no target prunes
    arrays = dict(columns)
    if "batch_size" in given:  # a batch set is the batch priced
        given.setdefault("plan_batch_size", given["batch_size"])
    else:  # the batch each layout prices, decoded at
        if "plan_batch_size" not in arrays:
            arrays["plan_batch_size"] = numpy.asarray(
                _evaluation(m, h, given, arrays, mode, cal).magnitude("plan_batch_size"), dtype=float)
        arrays["batch_size"] = arrays["plan_batch_size"]
    ev, replicas = _evaluation(m, h, given, arrays, mode, cal), None
    colocated = given["serving_mode"] == "colocated"
    itl_replicas = _array(ev, "colocated_replicas")  # colocated: the fewest whose ITL meets the target
    if colocated and "colocated_replicas" not in given:
        replicas = fewest_colocated_replicas(
            lambda c: _evaluation(m, h, given, {**arrays, "colocated_replicas": c}, mode, cal), ev)
        arrays["colocated_replicas"] = numpy.where(numpy.isfinite(replicas), replicas, 1.0)
        ev = _evaluation(m, h, given, arrays, mode, cal)
    elif not colocated and "prefill_replicas" not in given:
        replicas = fewest_prefill_replicas(
            lambda c: _evaluation(m, h, given, {**arrays, "prefill_replicas": c}, mode, cal), ev)
        arrays["prefill_replicas"] = numpy.where(numpy.isfinite(replicas), replicas, 1.0)
        ev = _evaluation(m, h, given, arrays, mode, cal)
    # over arrays a figure the catalog does not publish comes out nan: the scalar probe says which it was
    if "kv_transfer_time" in probe.unavailable and not colocated:
        raise InputError(f"{m.id} on {h.id}: the TTFT needs the KV transfer to the decode fleet, which "
                         f"{probe.unavailable['kv_transfer_time']}")
    unpriced = "chip_hour_cost" in probe.unavailable
    n = len(columns["n_chips"])
    frame = pandas.DataFrame({name: numpy.broadcast_to(col, (n,)) for name, col in columns.items()})
    for name in (*REPORTED, "fits_in_hbm", "plan_feasible", "max_batch_size"):  # unavailable (no TDP): nan
        value = numpy.nan if name in ev.unavailable else ev.magnitude(name)
        frame[name] = numpy.broadcast_to(numpy.asarray(value, dtype=float), (n,))
    if replicas is not None:
        frame["colocated_replicas" if colocated else "prefill_replicas"] = replicas
    frame["serving_mode"] = given["serving_mode"]
    frame["itl_replicas"] = numpy.broadcast_to(itl_replicas, (n,)) if batches is None else numpy.nan
    if batches is not None:  # only the batches that fit
        frame = frame[frame["plan_batch_size"] <= frame["max_batch_size"]].reset_index(drop=True)
    frame["unpriced"] = unpriced  # no published price: ranked by chips, cost n/a
    frame["why"] = [_why(row, ttft, tpot) for row in frame.to_dict("records")]
    frame["meets"] = (frame["why"] == "") & (frame["plan_time_per_token"] <= tpot * (1 + 1e-9))
    frame.loc[(frame["why"] == "") & ~frame["meets"], "why"] = [
        f"misses the per-token target: TPOT {t:.3g} ms; target {tpot:.3g} ms"
        for t in frame.loc[(frame["why"] == "") & ~frame["meets"], "plan_time_per_token"]]
    return frame


def frontier(scored: Scored) -> pandas.DataFrame:
    """The non-dominated rows of a frontier scoring: none is both cheaper per million output tokens and faster
    per user; fastest first."""
    ok = scored.frame[scored.frame["why"].str.startswith("misses the per-token") | (scored.frame["why"] == "")]
    ok = ok[numpy.isfinite(ok["cost_per_million_output_tokens"])]
    ok = ok.sort_values(["plan_tokens_per_second_per_user", "cost_per_million_output_tokens"],
                        ascending=[False, True], kind="stable")
    keep, cheapest = [], math.inf
    for index, cost in zip(ok.index, ok["cost_per_million_output_tokens"], strict=True):
        if cost < cheapest:  # faster rows came first: a row stays when it is cheaper than every faster one
            keep.append(index)
            cheapest = cost
    return ok.loc[keep].reset_index(drop=True)
