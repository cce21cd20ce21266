"""An iteration-level replay of a serving benchmark over the one engine step (issue 30, item 1).

The closed form (:mod:`symroof.model.engine`) solves a workload's steady state: every step carries the mean
decode batch and the mean prefill tokens. A benchmark is a finite run: users start together, prompts arrive in
bursts, a whole prompt rides in one step, the KV pool fills and preempts, the run ramps up and drains. The
replay runs what vLLM V1's scheduler does with the benchmark's requests (:mod:`.scheduler`), and prices every
step with the declared ``engine_step_time`` at the step's own decode sequences and prefill tokens
(:mod:`.pricing`); the step's attention is priced at the declared mean context (input plus half the output),
as the closed form prices it, not at each request's own. What it reports per request: time to first token,
inter-token latency (vLLM's TPOT, (e2e - TTFT) / (output - 1)), end-to-end latency; over the run their mean,
p50, p90 and p99, the pooled per-token gaps (vLLM's ITL), and the throughput over the run's duration (ramp-up
and drain included, as a benchmark measures it).

Not modelled: a prefix cache beyond the workload's ``cached_prefix_fraction`` (a fixed share of every prompt,
kept across preemptions), swapping, priorities, the engine's CPU time outside the step (the frontend's is
``api_overhead``, before the first step), the KV of sliding-window layers by position (the pool counts every
token at the workload's mean size per token), disaggregated serving and static batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy

from ..core.errors import InputError
from ..evaluation import Evaluation
from .benchmark import MAX_REQUESTS, Benchmark, read_lengths, request_count
from .pricing import StepPrice
from .scheduler import BLOCK, Engine, Trace
from .scheduler import run as _run

__all__ = ["MAX_REQUESTS", "NAMES", "Benchmark", "Replayed", "StepPrice", "read_lengths", "replay", "request_count"]

#: The summaries reported of each per-request metric; the metrics; the run's own numbers. Each reads in the unit
#: of the closed form's quantity it stands beside (``token_gap`` beside ``itl``; the count of preemptions in none).
STATS = ("mean", "p50", "p90", "p99")
METRICS = {"ttft": "ttft", "itl": "itl", "e2e_latency": "e2e_latency", "token_gap": "itl"}
RATES = {"replay_request_throughput": "request_throughput", "replay_output_throughput": "output_throughput",
         "replay_output_throughput_per_chip": "output_throughput_per_chip", "replay_duration": "e2e_latency",
         "replay_running_batch": "running_batch", "replay_requests": "running_batch", "replay_preemptions": None}
#: Every name a replay reports, in order (the serve table's rows, the JSON quantities), and its closed-form peer.
LIKE = {**{f"{m}_{s}": peer for m, peer in METRICS.items() for s in STATS}, **RATES}
NAMES = tuple(LIKE)


@dataclass
class Replayed:
    """One replay: the benchmark, what each request saw, and the run's steps (:class:`Trace`)."""

    trace: Trace
    inputs: numpy.ndarray
    outputs: numpy.ndarray
    chips: float
    description: str
    units: dict[str, tuple[float, str, str]]  # a closed-form quantity -> (base per unit, unit, short unit)

    @property
    def ttft(self) -> numpy.ndarray:
        return self.trace.first - self.trace.issue

    @property
    def e2e_latency(self) -> numpy.ndarray:
        return self.trace.finish - self.trace.issue

    @property
    def itl(self) -> numpy.ndarray:
        """Each request's mean time between its tokens after the first (vLLM's TPOT); nan for one output token."""
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return numpy.where(self.outputs > 1, (self.trace.finish - self.trace.first) / (self.outputs - 1), numpy.nan)

    @property
    def duration(self) -> float:
        return float(numpy.max(self.trace.finish) - numpy.min(self.trace.issue))

    def summary(self, metric: str, stat: str) -> float:
        """``stat`` (mean, p50, p90, p99) of ``metric`` in seconds; ``token_gap`` pools every gap (vLLM's ITL)."""
        if metric == "token_gap":
            values, weights = self.trace.gaps
            if not values.size:
                return float("nan")
            if stat == "mean":
                return float(numpy.average(values, weights=weights))
            order = numpy.argsort(values)
            cum = numpy.cumsum(weights[order])
            return float(values[order][numpy.searchsorted(cum, float(stat[1:]) / 100 * cum[-1])])
        x = getattr(self, metric)
        x = x[numpy.isfinite(x)]
        if not x.size:
            return float("nan")
        return float(numpy.mean(x) if stat == "mean" else numpy.percentile(x, float(stat[1:])))

    def values(self) -> dict[str, float]:
        """Every reported number, in base units (seconds, sequences, tokens)."""
        out = {f"{m}_{s}": self.summary(m, s) for m in METRICS for s in STATS}
        steps = self.trace.steps
        span = steps["count"] * steps["time"]
        tokens = float(self.outputs.sum())
        out.update(zip(RATES, (len(self.inputs) / self.duration, tokens / self.duration,
                               tokens / self.duration / self.chips, self.duration,
                               float((steps["running"] * span).sum() / span.sum()), float(len(self.inputs)),
                               float(self.trace.preemptions)), strict=True))
        return out

    def readings(self) -> dict[str, tuple[float, str, str]]:
        """Every reported number in its reporting unit: name -> (value, unit, short unit)."""
        out = {}
        for name, value in self.values().items():
            factor, unit, short = self.units.get(LIKE[name]) or (1.0, "", "")
            out[name] = (value / factor, unit, short)
        return out

    def quantities(self) -> dict[str, dict]:
        """The JSON quantities of ``eval``'s contract (value, unit, kind, formula, source)."""
        return {name: {"value": value if numpy.isfinite(value) else None, "unit": unit, "kind": "replay",
                       "formula": None, "source": self.description}
                for name, (value, unit, _) in self.readings().items()}


def replay(ev: Evaluation, bench: Benchmark | None = None) -> Replayed:
    """Replay the workload of ``ev`` (a serve evaluation: its mode, engine and calibration) as ``bench`` says."""
    bench = bench or Benchmark()
    b = ev.base
    workload = ev.magnitude("workload")
    if workload == "static":
        raise InputError("--batch with --replay: a static batch is the closed form's; replay it as an offline run, "
                         "--concurrency max --requests N")
    if ev.magnitude("serving_mode") != "colocated":
        raise InputError("--replay models a colocated engine; serving_mode=disaggregated is the closed form's")
    users = int(b["concurrency"]) if workload == "concurrency" else None
    n = bench.count(users)
    inputs, outputs = bench.sizes(b["input_length"], b["output_length"], n)
    pool = b["kv_pool_sequences"] * (b["input_length"] + b["output_length"])
    blocks = int(min(pool / BLOCK, 1e15))
    # a request's last decode step holds its prompt, its output but the last token, and the step's draft tokens
    longest = int(numpy.argmax(inputs + outputs))
    need = inputs[longest] + outputs[longest] + float(b["speculative_tokens"])
    if numpy.ceil(need / BLOCK - 1e-9) > blocks:
        raise InputError(f"{ev.mode}: the KV cache cannot hold request {longest + 1}: the pool holds {pool:,.0f} "
                         f"tokens and its {inputs[longest]:,.0f} + {outputs[longest]:,.0f} tokens need {need:,.0f}; "
                         "add chips, shorten the lengths or raise the memory fraction")
    engine = Engine(budget=b["max_num_batched_tokens"], max_seqs=b["max_num_seqs"], blocks=blocks,
                    draft=1 + float(b["speculative_tokens"]), accepted=float(b["accepted_tokens_per_step"]),
                    api=float(b["api_overhead"]), separate=bool(b["prefill_separate"] >= 0.5))
    cached = inputs - numpy.maximum(1.0, inputs * (1 - float(b["cached_prefix_fraction"])))
    most = int(min(engine.max_seqs, users or n, blocks, 65536))
    price = StepPrice(ev, most)
    starts = None
    if users is not None:
        issue = numpy.zeros(min(users, n))
        if bench.stagger:  # user j starts at step j K / N: the steady state's spacing, K steps per request
            starts = numpy.floor(numpy.arange(min(users, n)) * float(b["steps_per_request"]) / users)
        how = f"a closed loop of {users:,} users" + (", started a request's steps apart" if bench.stagger else "")
    else:
        # one replica's share of the traffic, as the closed form takes it (a plan's fleet spreads it evenly)
        rate = b["request_rate"] / b.get("colocated_replicas", 1.0) if workload == "rate" else None
        issue = bench.issues(workload, n, rate)
        how = ("all at once (offline)" if workload == "max" else
               f"{'Poisson' if bench.arrivals == 'poisson' else 'fixed-interval'} arrivals at {rate:g}/s")
    trace = _run(engine, price, inputs, outputs, cached, issue, users, starts)
    spread_text = f", lengths spread {bench.spread:g}" if bench.spread else ""
    text = f"replay of {n:,} requests, {how}{spread_text}, seed {bench.seed} (symroof/replay)"
    units = {peer: (ev.spec(peer).factor, ev.spec(peer).unit_text, ev.spec(peer).unit_short)
             for peer in set(LIKE.values()) if peer}
    return Replayed(trace, inputs, outputs, float(b["n_chips"]), text, units)
