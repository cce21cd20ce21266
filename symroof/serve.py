"""What a serving engine delivers for a workload (``symroof serve``), bound and estimate side by side.

The declared engine model (:mod:`symroof.model.engine`) does the work; this
module turns a workload (a closed loop of users, an open loop at a rate, one
static batch, or the most the engine admits) into its inputs, evaluates it in
both modes (the chapter's idealised engine, and the chip's calibration with an
engine profile), and says which cap binds and whether the engine keeps up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import pint

from . import catalog, profiles
from .core.errors import InputError
from .core.units import Q_, ureg
from .engine_settings import bound_note, for_mode
from .evaluation import (
    MODES,
    Evaluation,
    Mode,
    Pair,
    check_mode,
    load_calibration,
    parse_overrides,
    refuse_other_spellings,
)
from .replay import Benchmark, Replayed, request_count
from .replay import replay as replayed

ENGINES = ("vllm", "sglang", "trtllm")
#: What a serve result reports, in this order (the declared quantities of the workload's answer).
OUTPUTS = ("ttft", "itl", "e2e_latency", "request_throughput", "output_throughput", "output_throughput_per_chip",
           "output_throughput_per_user", "running_batch", "served_concurrency", "serve_step_time",
           "serve_decode_batch", "batch_cap", "kv_pool_sequences", "max_num_seqs", "kv_pool_bytes")

#: The workload's numbers in the JSON (``serve.workload``): their units.
WORKLOAD_UNITS = {"concurrency": "sequence", "request_rate": "sequence/s", "batch_size": "sequence",
                  "input_length": "token/sequence", "output_length": "token/sequence"}
#: What the serve table shows, in order: (section, quantities).
ROWS = (
    ("Latency", ("ttft", "itl", "e2e_latency", "serve_step_time")),
    ("Throughput", ("request_throughput", "output_throughput", "output_throughput_per_chip",
                    "output_throughput_per_user")),
    ("Batch", ("served_concurrency", "running_batch", "serve_decode_batch", "batch_cap", "max_num_seqs",
               "serve_token_cap", "max_num_batched_tokens", "kv_pool_sequences", "kv_pool_bytes", "prefill_chunks")),
    ("Limits (closed form)", ("saturation_request_rate", "max_request_rate_for_itl", "max_concurrency_for_itl",
                              "target_step_time")),
    ("Layout", ("n_chips", "tensor_parallel_size", "attention_data_parallel", "pipeline_stages", "weight_dtype",
                "kv_dtype")),
)


@dataclass
class Workload:
    """One of: ``concurrency`` (a number, or ``"max"``), ``rate`` (requests per second), ``batch`` (static).

    Numbers are tokens per request, requests per second and requests; pint quantities are converted
    (``Q_(600, "1/min")`` is 10 requests/s)."""

    input_length: float
    output_length: float
    concurrency: float | str | None = None
    rate: Any = None
    batch: float | None = None

    def settings(self) -> dict[str, Any]:
        given = [k for k in ("concurrency", "rate", "batch") if getattr(self, k) is not None]
        if len(given) != 1:
            raise InputError("give one workload: --concurrency N (or max), --rate R/s or --batch N"
                             + (f"; got {' and '.join('--' + k for k in given)}" if given else ""))
        tokens_in, tokens_out = tokens(self.input_length, "input"), tokens(self.output_length, "output")
        out: dict[str, Any] = {n: Q_(v, "token/sequence") for n, v in (
            ("input_length", tokens_in), ("output_length", tokens_out), ("prefill_length", tokens_in),
            ("decode_length", tokens_out), ("context_length", tokens_in + tokens_out))}
        out["colocated_replicas"] = 1  # the engine serves the whole rate (a plan's fleet spreads it)
        one = Q_(1, "sequence")
        if self.batch is not None:
            out.update(workload="static", batch_size=sequences(self.batch, "--batch"))
        elif self.rate is not None:
            out.update(workload="rate", request_rate=request_rate(self.rate), batch_size=one)
        elif isinstance(self.concurrency, str) and self.concurrency.strip().lower() == "max":
            out.update(workload="max", batch_size=one)
        else:
            out.update(workload="concurrency", concurrency=sequences(self.concurrency, "--concurrency"),
                       batch_size=one)
        return out


def _read(value: Any, units: tuple[str, ...], option: str, example: str) -> float:
    """``value`` as a number in ``units[0]``: a number (already in it) or a pint quantity in any of ``units``
    (read as ``units[0]``: 10/s is 10 requests/s). Text is read by pint (``"10/s"``, ``"600/min"``): the command
    line's, which ``cli/serving.py`` still hands over as given (``cli/parsing.py`` reads the other commands')."""
    if isinstance(value, str):
        try:
            value = Q_(value)
        except Exception:  # pint raises a dozen kinds on text it cannot read
            raise InputError(f"{option} {value!r}: {example}") from None
    if isinstance(value, pint.Quantity):
        if value._REGISTRY is not ureg:
            raise InputError(f"{option}: use symroof.ureg quantities, not another pint registry")
        for unit in units:
            if value.dimensionality == ureg.Unit(unit).dimensionality:
                return float(value.to(unit).magnitude)
        raise InputError(f"{option} {_said(value)}: {example}")
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InputError(f"{option} {value!r}: {example}")
    return float(value)


def _said(value: Any) -> str:
    """``value`` as a message quotes it: text and numbers as given, a quantity as pint writes it short."""
    if isinstance(value, pint.Quantity):
        return repr(f"{value:~P}" if not value.dimensionless else f"{value.magnitude:g}")
    return repr(value)


def tokens(value: Any, what: str, option: str | None = None) -> float:
    """Tokens per request (``--input``/``--output``, or ``option``): a number, at least 1."""
    option = option or f"--{what}"
    number = _read(value, ("token/sequence", "token", ""), option,
                   f"give the {what} tokens per request as a number, like 1024")
    if number == float("inf"):
        raise InputError(f"{option} {_said(value)}: give a finite number of {what} tokens per request, like 1024")
    if not number >= 1:  # also nan
        raise InputError(f"{option} {_said(value)}: a request has at least one {what} token")
    return number


def sequences(value: Any, option: str) -> pint.Quantity:
    """A whole number of requests (``--concurrency``, ``--batch``), at least 1, in sequences."""
    number = _read(value, ("sequence", ""), option, "give a whole number of requests, like 64")
    if not 1 <= number < float("inf") or number != int(number):
        raise InputError(f"{option} {_said(value)}: give a whole number of requests, at least 1 and finite")
    return Q_(number, "sequence")


def request_rate(value: Any, option: str = "--rate") -> pint.Quantity:
    """A request rate: a number (per second) or a pint quantity (``Q_(600, "1/min")``, ``Q_(10, "sequence/s")``),
    above 0 and finite, in sequences per second."""
    shape = "give requests per second, like 2000/s"
    if isinstance(value, str) and value.strip()[:1].isdigit():
        shape = "a rate is requests per unit of time, like 10/s or 600/min"
    n = _read(value, ("sequence/s", "1/s", ""), option, shape)
    if not 0 < n < float("inf"):
        raise InputError(f"{option} {_said(value)}: the rate must be above 0 and finite")
    return Q_(n, "sequence/s")


@dataclass(repr=False)
class Served(Pair):
    """A workload's answer in both modes, with the engine that was modelled (read as every result:
    :class:`~symroof.evaluation.Pair`)."""

    model: str
    hardware: str
    engine: str
    workload: dict[str, Any]
    evaluations: dict[str, Evaluation]
    notes: dict[str, list[str]] = field(default_factory=dict)
    replays: dict[str, Replayed] = field(default_factory=dict)  # per mode, with replay=True (symroof/replay)
    mode: Mode = "bound"  # the mode serve was called with: what value() reads by default
    headline = ("ttft", "itl", "output_throughput_per_chip", "running_batch")

    def shown(self) -> list[str]:
        return [n for _, ns in ROWS for n in ns]

    def title(self) -> str:
        return f"{self.model} on {self.hardware}, {self.engine}"

    def binding(self, mode: str) -> str:
        """Which cap sets the running batch: the workload itself, the sequence cap, the token budget, the KV pool."""
        ev = self.evaluations[mode]
        if ev.magnitude("workload") in ("rate", "static") or "batch_cap" in ev.unavailable:
            return "workload"
        offered = ev.magnitude("concurrency") if ev.magnitude("workload") == "concurrency" else float("inf")
        caps = {"max_num_seqs": ev.magnitude("max_num_seqs"),
                "max_num_batched_tokens": ev.magnitude("serve_token_cap"),
                "kv_pool": ev.magnitude("kv_pool_sequences")}
        least = min(caps, key=caps.get)
        return "workload" if offered <= caps[least] else least

    def overloaded(self, mode: str) -> bool:
        """Whether the engine cannot keep up (an open loop past saturation has no finite step time)."""
        ev = self.evaluations[mode]
        return ev.holds("serve_stable") is False or (ev.magnitude("workload") == "rate"
                                                     and ev.holds("serve_stable") is None)

    def verdict(self, mode: str) -> str:
        """The sentence an overloaded workload gets."""
        ev = self.evaluations[mode]
        if ev.holds("serve_stable") is False:
            return ev.says("serve_stable")
        return (f"OVERLOADED: {ev.magnitude('request_rate'):g} requests/s arrive faster than the engine finishes "
                "them (each step would have to be shorter than the work it carries); latency grows without bound")

    def to_dict(self, mode: str) -> dict:
        """The ``eval`` JSON contract of ``mode``, with what serve adds under ``serve``."""
        ev = self.evaluations[mode]
        out = ev.to_dict()
        out["serve"] = {"workload": self.workload, "engine": self.engine if mode == "estimate" else "ideal",
                        "binding": self.binding(mode), "overloaded": self.overloaded(mode),
                        "kv_holds_a_request": ev.holds("serve_kv_holds_a_request")}
        out["notes"] = list(self.notes.get(mode, []))
        if mode in self.replays:  # the replay's percentiles beside the closed form's means
            out["quantities"].update(self.replays[mode].quantities())
            out["serve"]["replay"] = self.replays[mode].description
        return out


def _no_kv_room(ev: Evaluation) -> str:
    """Why the KV pool holds no request: a dense model's attention groups each holding the weights, or the pool."""
    groups = float(ev.magnitude("attention_data_parallel"))
    if groups > 1 and ev.magnitude("mlp") == "dense":
        return (f"attention_data_parallel={groups:g} on a dense model: each of the {groups:g} attention groups "
                f"holds its own copy of the weights ({groups:g} x {ev.magnitude('param_bytes'):,.1f} GB), which "
                "leaves no room for the KV cache; attention data parallelism pays off only beside spread experts "
                "(a mixture of experts); serve data-parallel replicas instead (fewer chips per replica)")
    return ev.says("serve_kv_holds_a_request")


#: What --set may not say to serve, because the workload's options say it: (quantity, the options that set it).
_WORKLOAD_SETS = {"batch_size": "--batch (a static batch; --concurrency and --rate run the batch the engine admits)",
                  "context_length": "--input and --output", "prefill_length": "--input",
                  "decode_length": "--output", "input_length": "--input", "output_length": "--output",
                  "concurrency": "--concurrency", "request_rate": "--rate",
                  "workload": "--concurrency, --rate or --batch"}


def _refuse_workload_sets(given: Mapping[str, Any], work: Mapping[str, Any]) -> None:
    """A --set of what the workload's options decide is refused, never dropped (issue 31: --batch 8 --set
    batch_size=16 computed 16; --set concurrency beside --rate was ignored)."""
    for name, options in _WORKLOAD_SETS.items():
        if name not in given:
            continue
        if name in work and name not in ("batch_size", "context_length", "prefill_length", "decode_length") \
                or (name == "batch_size" and work.get("workload") == "static"):
            raise InputError(f"{name} is given twice (the workload and --set); give it once")
        raise InputError(f"--set {name}: serve takes it from {options}; give it there (or leave it out)")


def serve(model: str | catalog.Entry, hardware: str | catalog.Entry, input_length: float, output_length: float, *,
          concurrency: float | str | None = None, rate: Any = None, batch: float | None = None,
          engine: str = "vllm", mode: Mode = "bound", calibration: str | None = None,
          overrides: Mapping[str, Any] | None = None, replay: bool | Benchmark = False,
          requests: Any = None, **unknown: Any) -> Served:
    """What ``engine`` delivers for the workload, bound and estimate side by side.

    Lengths are tokens per request, ``rate`` requests per second, ``concurrency`` and ``batch`` requests:
    numbers, or pint quantities. ``mode`` is the mode ``value()`` reads by default (both are evaluated);
    ``calibration`` a file from ``symroof calibrate`` for the estimate; ``overrides`` what ``--set`` gives.

    ``replay=True`` (or a :class:`~symroof.replay.Benchmark`) also replays the workload as a benchmark of
    ``requests`` requests, step by step over the same engine step, in both modes (``Served.replays``; JSON
    ``ttft_p50``, ``ttft_p99``, ``itl_p50``, ``itl_p99``, ``e2e_latency_p99``, ...).

    >>> serve("llama-3.3-70b", "h100", 1024, 1024, concurrency=64, overrides={"n_chips": 8}).value("itl")
    """
    refuse_other_spellings("serve", unknown)
    primary = check_mode(mode)
    if requests is not None and replay is False:
        raise InputError("--requests needs --replay: the closed form has no number of requests")
    bench = replay if isinstance(replay, Benchmark) else Benchmark() if replay else None
    if bench is not None and requests is not None:
        bench = dataclasses.replace(bench, requests=request_count(requests))
    if bench is not None and batch is not None:
        raise InputError("--batch with --replay: a static batch is the closed form's; replay it as an offline run, "
                         "--concurrency max --requests N")
    m = model if isinstance(model, catalog.Entry) else catalog.load("model", model)
    h = hardware if isinstance(hardware, catalog.Entry) else catalog.load("hardware", hardware)
    profile = profiles.load(engine, h)
    work = Workload(input_length, output_length, concurrency, rate, batch).settings()
    given = dict(overrides or {})
    _refuse_workload_sets(given, work)
    settings = {**work, **given}
    evaluations = {}
    for mode in MODES:
        cal = load_calibration(h, calibration) if mode == "estimate" else None
        evaluations[mode] = Evaluation(m, h, parse_overrides(for_mode(settings, mode), "--set "), mode=mode,
                                       calibration=cal, engine=profile)
    said = {k: v if isinstance(v, str) else f"{v.magnitude!r} {WORKLOAD_UNITS[k]}" for k, v in work.items()
            if k in ("workload", *WORKLOAD_UNITS)}  # the JSON's workload, as text with its unit
    out = Served(m.id, h.id, profile.id, said, evaluations, mode=primary)
    for mode, ev in evaluations.items():
        split = ev.uneven_heads()  # a warning in eval; serve runs an engine, which refuses it
        if split:
            raise InputError(split)
        if ev.holds("serve_kv_holds_a_request") is False:
            raise InputError(f"{mode}: {_no_kv_room(ev)}")
        if not ev.feasible:
            raise InputError(f"{mode}: {ev.infeasible()}")
        out.notes[mode] = [out.verdict(mode)] if out.overloaded(mode) else []
    out.notes["bound"] += bound_note(given)
    if bench is not None:
        out.replays = {mode: replayed(ev, bench) for mode, ev in evaluations.items()}
    return out
