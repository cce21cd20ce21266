"""The validation dataset: published serving measurements, each read as the workload ``symroof serve`` predicts.

Each row names a model, a chip, the layout, the dtypes, the engine, the
workload (a closed loop of users, an open loop at a rate, maximum load, or a
static batch), the lengths, the metric with its unit, and its source. A row is
read into a :class:`Point`: the serve call that reproduces it, or the reason
it cannot be predicted (an engine or a metric symroof does not model,
disaggregated serving, speculative decoding).
"""

from __future__ import annotations

import csv
import functools
import io
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy

from .. import catalog, profiles
from ..core.errors import InputError
from ..core.units import Q_
from ..derive import table

#: The columns every dataset has (``symroof validate --data`` takes any CSV with them).
COLUMNS = ("model", "chip", "n_chips", "tensor_parallel", "pipeline_parallel", "expert_parallel", "weight_dtype",
           "kv_dtype", "compute_dtype", "batch", "concurrency", "input_length", "output_length", "metric", "value",
           "unit", "engine", "source", "date", "notes")
#: Columns a dataset may add: the attention data-parallel degree, the workload in words, an open loop's rate, and
#: why a row is kept out of every fit (still predicted and reported apart; symroof/data/AUDIT.md).
OPTIONAL = ("attention_data_parallel", "workload", "rate", "excluded_from_fit")
DTYPES = {"bf16": "bf16", "fp16": "bf16", "fp8": "fp8", "int8": "int8", "nvfp4": "fp4", "fp4": "fp4",
          "mxfp4": "mxfp4"}
#: metric -> (the serve quantity, whether the value sums the replicas of the slice)
METRICS = {"output_tokens_per_s_total": ("output_throughput", True),
           "output_tokens_per_s_per_gpu": ("output_throughput_per_chip", False),
           "ttft_ms": ("ttft", False), "inter_token_latency_ms": ("itl", False),
           "time_per_output_token_ms": ("itl", False), "e2e_latency_ms": ("e2e_latency", False),
           "e2e_latency_s": ("e2e_latency", False)}
KINDS = {"output_throughput": "output throughput", "output_throughput_per_chip": "output throughput",
         "ttft": "time to first token", "itl": "inter-token latency", "e2e_latency": "end-to-end latency"}
#: Metrics a dataset may hold that symroof knows and does not predict (per node, or input and output together).
NOT_PREDICTED = ("throughput_tokens_per_s_total", "input_tokens_per_s_per_node", "output_tokens_per_s_per_node")
#: Columns that, when they hold a number, must hold a finite one above 0 (words like "max" or "not stated" are read
#: as not given).
POSITIVE = ("n_chips", "tensor_parallel", "pipeline_parallel", "expert_parallel", "attention_data_parallel", "batch",
            "concurrency", "rate", "input_length", "output_length")
ENGINES = (("tensorrt-llm", "trtllm"), ("nvidia nim", "trtllm"), ("vllm", "vllm"), ("sglang", "sglang"))
#: TensorRT-LLM's max-load tables run trtllm-bench (offline, its own batch and token heuristics), not trtllm-serve:
#: fitted apart, and predicted with the ``trtllm-bench`` engine profile where symroof ships one.
BENCH_HARNESS = "trtllm-bench"
#: InferenceMAX's client (its bench_serving copy of vLLM's benchmark_serving.py) draws each request's lengths
#: uniformly over the whole numbers int(L r) .. L, r = --random-range-ratio (sample_random_requests in
#: github:kimbochen/bench_serving benchmark_serving.py), with r = 0.8 and 10 x concurrency requests (the
#: "Benchmark Client Configuration" of InferenceMAX's README, github:jyothisambolu/InferenceMAX README.md, a fork
#: of the InferenceMAX repository; the same 0.8 in its recipes' sa-bench settings). A row's input_length and
#: output_length are L; the requests' mean is (int(L r) + L) / 2.
RANGE_RATIO, ROUNDS = 0.8, 10
#: The columns that name one configuration (a row of another source or a re-run with these equal repeats it).
CONFIG = ("model", "chip", "n_chips", "tensor_parallel", "pipeline_parallel", "expert_parallel",
          "attention_data_parallel", "weight_dtype", "kv_dtype", "input_length", "output_length", "batch",
          "concurrency", "rate")


@dataclass
class Point:
    """One published measurement and how symroof predicts it."""

    row: dict
    line: int
    measured: float
    skipped: str | None = None
    quantity: str = ""
    unit: str = ""
    engine: str = ""
    serve: dict[str, Any] = field(default_factory=dict)  # keyword arguments of symroof.serve
    scale: float = 1.0  # replicas whose sum the measurement is
    bound: float | None = None
    estimate: float | None = None
    held_out: float | None = None
    unknown: tuple[str, str] | None = None  # (model, chip or metric; the name) a row names and symroof does not know
    replay: float | None = None  # the replay of the source's benchmark (estimate mode, shipped profile)
    spread: tuple[float, float] | None = None  # lengths drawn over (lowest, highest) x L, where the source says so
    held_out_replay: float | None = None  # the same, with the CPU times fitted on the other sources
    replay_error: str | None = None  # why a benchmark row was not replayed

    @property
    def excluded(self) -> str:
        """Why the row is kept out of every fit ('' when it is not)."""
        return self.row.get("excluded_from_fit", "")

    @property
    def harness(self) -> str:
        """What the engine's CPU times are fitted per: the engine, and trtllm-bench apart from trtllm-serve."""
        return BENCH_HARNESS if BENCH_HARNESS in self.row["engine"].lower() else self.engine

    @property
    def benchmark(self) -> bool:
        """Whether the source ran a benchmark the replay can run: a closed loop, an open loop or all at once with a
        request count (not a static batch; not disaggregated serving, which the replay does not model)."""
        overrides = self.serve.get("overrides", {})
        return bool(self.serve) and "batch" not in self.serve and "serving_mode" not in overrides

    @property
    def config(self) -> tuple:
        """The configuration the row measures (its model, chip, layout, dtypes, engine, lengths and load)."""
        return (*(_canonical(self.row.get(c, "")) for c in CONFIG), _engine(self.row["engine"]) or self.row["engine"])

    @property
    def dtype(self) -> str:
        return _dtype(self.row["weight_dtype"], self.row["weight_dtype"] or "not stated")

    @property
    def vendor(self) -> str:
        return chip_vendor(self.row["chip"])

    @property
    def label(self) -> str:
        r = self.row
        load = self.serve.get("workload_text", "")
        return (f"{r['model']} on {r['n_chips']}x {r['chip']} {r['weight_dtype'].split()[0]}, {self.engine} "
                f"{load}, {r['input_length']}/{r['output_length']}, {r['metric']}")

    @property
    def group(self) -> str:
        """The source a point comes from (its repository file or page, without the commit)."""
        return self.row["source"].split(" @")[0].split(" (")[0].strip()

    @property
    def family(self) -> str:
        return "moe" if self.row["model"] in _moe_models() else "dense"

    @property
    def kind(self) -> str:
        return KINDS.get(self.quantity, self.row["metric"])


@functools.lru_cache(maxsize=2)
def _known(kind: str) -> frozenset[str]:
    """The names the shipped catalog answers to (read once: reading it per row was most of validate's time)."""
    return frozenset(catalog.known(kind))


@functools.lru_cache(maxsize=1)
def _moe_models() -> frozenset[str]:
    return frozenset(m for m in _known("model") if catalog.load("model", m).values.get("mlp") == "moe")


def default_data() -> Path:
    return Path(str(resources.files("symroof") / "data" / "serving.csv"))


def load(path: str | Path | None = None) -> list[Point]:
    """The dataset's points, each checked and read into the serve call that predicts it."""
    path = Path(path) if path is not None else default_data()
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a byte-order mark is what Excel writes
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 CSV file") from None
    reader = csv.DictReader(io.StringIO(text))
    twice = [c for c, n in Counter(c.strip() for c in reader.fieldnames or []).items() if n > 1]
    if twice:  # a dict keeps the last of two columns of one name: the other would be dropped without a word
        raise InputError(f"{path}: the header has {' and '.join(map(repr, twice))} more than once; keep one "
                         f"column of each name")
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{path}: missing columns {', '.join(missing)}")
    points = []
    for line, row in enumerate(reader, start=2):
        if None in row:  # cells past the header's last column: DictReader files them under None
            raise InputError(f"{path} line {line}: {len(row[None])} cell(s) beyond the header's "
                             f"{len(reader.fieldnames or [])} columns")
        row = {k: (v or "").strip() for k, v in row.items()}
        try:
            value = float(row["value"])
        except ValueError:
            raise InputError(f"{path} line {line}: value {row['value']!r} is not a number") from None
        if not math.isfinite(value) or value <= 0:
            raise InputError(f"{path} line {line}: value must be above 0")
        for column in POSITIVE:
            number = _number(row.get(column))
            if number is not None and not (math.isfinite(number) and number > 0):
                raise InputError(f"{path} line {line}: {column} {row[column]!r} must be a finite number above 0")
        p = Point(row, line, measured=value)
        p.skipped = read(p, f"{path} line {line}")
        points.append(p)
    if not points:
        raise InputError(f"{path}: no points")
    return points


def _mean_length(largest: float) -> float:
    """The mean of InferenceMAX's lengths drawn uniformly over the whole numbers int(L r) .. L."""
    return (int(largest * RANGE_RATIO) + largest) / 2


def draw_lengths(largest: float, n: int, seed: int = 0) -> numpy.ndarray:
    """``n`` lengths as InferenceMAX's client draws them (uniform whole numbers int(L r) .. L), from ``seed``."""
    return numpy.random.default_rng(seed).integers(int(largest * RANGE_RATIO), int(largest) + 1, n).astype(float)


def chip_vendor(chip: str) -> str:
    """The maker of a catalog chip, by its id."""
    prefixes = (("mi", "AMD"), ("tpu", "Google"), ("gaudi", "Intel"), ("trainium", "AWS"))
    return next((name for prefix, name in prefixes if chip.startswith(prefix)), "NVIDIA")


def _canonical(text: str) -> str:
    """A cell as a configuration key: a number as its value (8 and 8.0 alike), words in lower case."""
    number = _number(text)
    return f"{number:g}" if number is not None else text.strip().lower()


def _number(text: str | None) -> float | None:
    try:
        return float(text or "")
    except ValueError:
        return None


def _dtype(text: str, fallback: str) -> str:
    word = re.split(r"[\s(]", text.lower(), maxsplit=1)[0] if text else ""
    return DTYPES.get(word, fallback)


def _unit(text: str, quantity: str, where: str) -> str:
    """The row's unit (the words before any parenthesis) as pint reads it, checked against the quantity."""
    shown = re.split(r"\s*\(", text, maxsplit=1)[0].strip()
    words = re.sub(r"\btokens\b", "token", shown)
    words = re.sub(r"\bGPUs?\b", "chip", words)
    words = re.sub(r"\bper\s+(\w+)", r"/ \1", words)
    try:
        Q_(1, words).to(table().specs[quantity].unit_text)
    except Exception:  # noqa: BLE001 - pint raises many kinds; the row's unit is what is wrong
        raise InputError(f"{where}: unit {text!r} is not a unit of {KINDS[quantity]} "
                         f"(like {table().specs[quantity].unit_text})") from None
    return words


@functools.lru_cache(maxsize=4)
def _has_profile(engine: str) -> bool:
    return engine in profiles.names()


def _engine(text: str) -> str | None:
    low = text.lower()
    return next((name for prefix, name in ENGINES if low.startswith(prefix)), None)


def read(p: Point, where: str) -> str | None:
    """Fill in the serve call of ``p``; the reason it cannot be predicted, or None."""
    r = p.row
    if r["model"] not in _known("model"):
        p.unknown = ("model", r["model"])
        return f"model {r['model']} is not in the catalog"
    if r["chip"] not in _known("hardware"):
        p.unknown = ("chip", r["chip"])
        return f"chip {r['chip']} is not in the catalog"
    if r["metric"] not in METRICS:
        if r["metric"] not in NOT_PREDICTED:
            p.unknown = ("metric", r["metric"])
            return f"metric {r['metric']} is not one symroof knows"
        return f"metric {r['metric']} is not predicted (per-node or prefill-only serving)"
    text = (r["engine"] + " " + r["notes"]).lower()
    disaggregated = re.search(r"(?<![-\w])disagg", text) is not None  # "PD disagg", not "(non-disagg)"
    if "mtp on" in text or "speculative decoding on" in text:
        return "speculative decoding: its acceptance rate is not published with the point"
    engine = _engine(r["engine"])
    if engine is None:
        return f"engine {r['engine'].split(' (')[0]!r} has no profile (vllm, sglang, trtllm)"
    p.engine = BENCH_HARNESS if p.harness == BENCH_HARNESS and engine == "trtllm" and _has_profile(BENCH_HARNESS) \
        else engine
    p.quantity, summed = METRICS[r["metric"]]
    p.unit = _unit(r["unit"], p.quantity, where)
    chips, tokens_in, tokens_out = _number(r["n_chips"]), _number(r["input_length"]), _number(r["output_length"])
    if chips is None or tokens_in is None or tokens_out is None:
        return "input/output lengths or chip count not given as numbers"
    weights = _dtype(r["weight_dtype"], "")
    if not weights:
        return f"weight dtype {r['weight_dtype']!r} not understood"
    tp, pp = _number(r["tensor_parallel"]), _number(r["pipeline_parallel"]) or 1
    adp = _number(r.get("attention_data_parallel")) or 1
    per_replica = tp * pp if tp else chips
    replicas = chips / per_replica
    if replicas < 1 or replicas != int(replicas):
        return f"{chips:g} chips do not split into replicas of tensor_parallel x pipeline_parallel = {per_replica:g}"
    overrides: dict[str, Any] = {"n_chips": per_replica, "weight_dtype": weights}
    if disaggregated:  # the decode replicas of a prefill fleet of their own: serve prices their steps so
        overrides["serving_mode"] = "disaggregated"
    if pp > 1:
        overrides["pipeline_stages"] = pp
    if adp > 1:
        overrides["attention_data_parallel"] = adp
    ep = _number(r["expert_parallel"])
    if ep and p.family == "moe":
        overrides["expert_parallel"] = ep
    compute = _dtype(r["compute_dtype"], weights)
    overrides["compute_dtype"] = compute if compute != "mxfp4" else "bf16"
    if weights == "mxfp4":  # an MXFP4 checkpoint's experts; what else it holds is the model file's native dtype
        del overrides["weight_dtype"]
    # a KV dtype the source does not state: 8-bit for 8-bit or 4-bit weights (what quantised checkpoints of
    # TensorRT-LLM ship with), the model's native one otherwise; an assumption the report's notes repeat
    kv = _dtype(r["kv_dtype"], "fp8" if weights in ("fp8", "fp4") and engine == "trtllm" else "")
    if kv:
        overrides["kv_dtype"] = "fp8" if kv in ("fp4", "mxfp4") else kv
    workload, reason = _workload(r, p.quantity, replicas)
    if reason:
        return reason
    if "inferencemax" in r["source"].lower() and "--random-range-ratio" in r["notes"]:
        # the row's lengths are the benchmark's largest; its requests average (int(L r) + L) / 2 (RANGE_RATIO)
        p.spread = (RANGE_RATIO, 1.0)
        tokens_in, tokens_out = (_mean_length(x) for x in (tokens_in, tokens_out))
    p.serve = {"input_length": tokens_in, "output_length": tokens_out, **workload, "overrides": overrides}
    p.scale = replicas if summed else 1.0
    return None


def _workload(r: dict, quantity: str, replicas: float) -> tuple[dict, str | None]:
    """The serve workload of a row (per replica), or why it cannot be read."""
    named = r.get("workload", "").lower()
    batch, users, rate = _number(r["batch"]), _number(r["concurrency"]), _number(r.get("rate"))
    if named == "rate" or (not named and rate):
        if not rate:
            return {}, "an open-loop row without its rate"
        return {"rate": rate / replicas, "workload_text": f"rate {rate:g}/s"}, None
    if named == "static" or (not named and batch and quantity == "e2e_latency"):
        if not batch:
            return {}, "a static batch without its size"
        return {"batch": batch / replicas, "workload_text": f"static batch {batch:g}"}, None
    # an offline run capped at a batch B runs as a closed loop of B users (in both modes: the bound's engine
    # has no sequence cap to set)
    if (named == "max" or not named) and batch and quantity in ("output_throughput", "output_throughput_per_chip"):
        return {"concurrency": max(1.0, batch / replicas), "workload_text": f"max load, batch {batch:g}"}, None
    if named == "max" or (not named and r["batch"] == "max"):
        return {"concurrency": "max", "workload_text": "max load"}, None
    if named == "concurrency" or (not named and users):
        if not users:
            return {}, "a closed-loop row without its concurrency"
        return {"concurrency": max(1.0, users / replicas), "workload_text": f"conc {users:g}"}, None
    if r["batch"]:
        return {}, f"batch {r['batch']!r} not understood"
    if "qps=inf" in r["notes"].lower():
        return {}, "latency with every request queued at once (the queue depends on the benchmark's length)"
    if quantity in ("output_throughput", "output_throughput_per_chip"):
        return {}, "throughput set by a request rate the row does not give"
    return {"concurrency": 1.0, "workload_text": "one user"}, None
