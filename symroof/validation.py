"""How far symroof's predictions are from published serving measurements (``symroof validate``).

The dataset (``symroof/data/serving.csv``) holds published, measured
end-to-end numbers, each with its source, engine and date. For each point
symroof predicts the same metric from the same settings, once in bound mode
(the chapter's roofline) and once in estimate mode (the chip's calibration),
and reports measured / predicted. The error of a set of points is the
geometric mean of |ln(measured / predicted)|, as a percentage.

What a metric is predicted from (the same formulas as ``symroof eval``):

- time per output token / inter-token latency: ``step_time`` at a batch of
  the concurrency (1 when none is given), at the mean context of decoding
  (input + output / 2);
- time to first token: ``prefill_time`` of the input, at light load only;
- end-to-end latency of a static batch B: B prefills plus ``output``
  decode steps at batch B;
- output throughput: B x output tokens over that same time, at the batch
  given, or the largest that fits in HBM at the full context (at most 4096)
  when the source ran at maximum throughput.

Points symroof cannot predict (a chip or model it does not know, throughput
set by a request rate, disaggregated prefill and decode across nodes) are
listed with the reason and left out of the error.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from . import catalog
from .core.errors import InputError
from .core.units import Q_
from .evaluation import evaluate

COLUMNS = ("model", "chip", "n_chips", "tensor_parallel", "pipeline_parallel", "expert_parallel", "weight_dtype",
           "kv_dtype", "compute_dtype", "batch", "concurrency", "input_length", "output_length", "metric", "value",
           "unit", "engine", "source", "date", "notes")
MAX_BATCH = 4096  # what a serving engine batches at most, at maximum throughput
DTYPES = {"bf16": "bf16", "fp16": "bf16", "fp8": "fp8", "int8": "int8", "nvfp4": "fp4", "fp4": "fp4",
          "mxfp4": "mxfp4"}
LATENCY = ("inter_token_latency_ms", "time_per_output_token_ms")


@dataclass
class Point:
    row: dict
    line: int
    measured: float | None = None
    bound: float | None = None
    estimate: float | None = None
    skipped: str | None = None

    @property
    def label(self) -> str:
        r = self.row
        load = f"batch {r['batch']}" if r["batch"] else (f"conc {r['concurrency']}" if r["concurrency"] else "light")
        return (f"{r['model']} on {r['n_chips']}x {r['chip']} {r['weight_dtype'].split()[0]}, {load}, "
                f"{r['input_length']}/{r['output_length']}, {r['metric']}")


def default_data() -> Path:
    return Path(str(resources.files(__package__) / "data" / "serving.csv"))


def load(path: str | Path | None = None) -> list[Point]:
    """The dataset's points, each checked for its columns."""
    path = Path(path) if path is not None else default_data()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{path}: missing columns {', '.join(missing)}")
    points = []
    for line, row in enumerate(reader, start=2):
        try:
            value = float(row["value"])
        except ValueError:
            raise InputError(f"{path} line {line}: value {row['value']!r} is not a number") from None
        if not math.isfinite(value) or value <= 0:
            raise InputError(f"{path} line {line}: value must be above 0")
        points.append(Point(row, line, measured=value))
    if not points:
        raise InputError(f"{path}: no points")
    return points


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _dtype(text: str, fallback: str) -> str:
    word = (text or "").split()[0].lower() if text and text.split() else ""
    return DTYPES.get(word, fallback)


def _settings(p: Point) -> tuple[dict, str | None]:
    """The overrides that reproduce a point's settings, or a reason it cannot be predicted."""
    r = p.row
    if r["model"] not in catalog.ids("model"):
        return {}, f"model {r['model']} is not in the catalog"
    if r["chip"] not in catalog.ids("hardware"):
        return {}, f"chip {r['chip']} is not in the catalog"
    chips = _number(r["n_chips"])
    tokens_in, tokens_out = _number(r["input_length"]), _number(r["output_length"])
    if chips is None or tokens_in is None or tokens_out is None:
        return {}, "input/output lengths or chip count not given as numbers"
    weights = _dtype(r["weight_dtype"], "")
    if not weights:
        return {}, f"weight dtype {r['weight_dtype']!r} not understood"
    compute = _dtype(r["compute_dtype"], weights)
    # a KV cache dtype the source does not state: 8-bit for 8-bit or 4-bit weights (what quantised checkpoints
    # of TensorRT-LLM and vLLM ship with), bf16 otherwise; an assumption, said in the notes of the report
    kv = _dtype(r["kv_dtype"], "fp8" if weights in ("fp8", "fp4", "mxfp4") else "bf16")
    if kv in ("fp4", "mxfp4"):
        kv = "fp8"
    settings = {"n_chips": chips, "weight_dtype": weights, "kv_dtype": kv,
                "compute_dtype": compute if compute not in ("mxfp4",) else "bf16",
                "prefill_length": tokens_in, "decode_length": tokens_out}
    return settings, None


def _in(ev, name: str, unit: str) -> float:
    """``name`` in ``unit`` (the metric's, not the reporting one), converted by pint."""
    return ev.quantity(name).to(unit).magnitude


def predict(p: Point, mode: str, calibration=None) -> float | None:
    """The point's metric as symroof predicts it in ``mode`` (None, with ``p.skipped`` set, when it cannot)."""
    settings, reason = _settings(p)
    if reason:
        p.skipped = reason
        return None
    r = p.row
    metric, estimate = r["metric"], mode == "estimate"
    tokens_in, tokens_out = settings["prefill_length"], settings["decode_length"]
    batch = _number(r["batch"]) or _number(r["concurrency"])

    def at(b: float, context: float):
        return evaluate(r["model"], r["chip"], {**settings, "batch_size": b, "context_length": context},
                        estimate=estimate)

    if batch is None and metric in (*LATENCY, "ttft_ms") and "QPS=INF" in r["notes"]:
        p.skipped = "latency with every request queued at once (the engine sets batch and queue) is not predicted"
        return None
    if metric in LATENCY:
        ev = at(batch or 1, tokens_in + tokens_out / 2)
        return ev.magnitude("step_time") if "step_time" not in ev.unavailable else None
    if metric == "ttft_ms":
        if batch not in (None, 1):
            p.skipped = "time to first token under concurrent load (queueing) is not predicted"
            return None
        ev = at(1, tokens_in)
        return _in(ev, "prefill_time", "ms")
    if metric in ("e2e_latency_ms", "e2e_latency_s", "output_tokens_per_s_total"):
        if metric == "output_tokens_per_s_total" and batch is None and r["batch"] != "max":
            p.skipped = "throughput set by a request rate, not by the hardware"
            return None
        if batch is None:
            full = at(1, tokens_in + tokens_out)
            batch = min(full.magnitude("max_batch_size"), MAX_BATCH)
            if batch < 1:
                p.skipped = "no batch fits in HBM at this context"
                return None
        ev = at(batch, tokens_in + tokens_out / 2)
        if "step_time" in ev.unavailable or "prefill_time" in ev.unavailable:
            p.skipped = "; ".join(ev.unavailable.get(n, "") for n in ("step_time", "prefill_time")).strip("; ")
            return None
        seconds = batch * _in(ev, "prefill_time", "s") + tokens_out * _in(ev, "step_time", "s")
        if metric == "output_tokens_per_s_total":
            return batch * tokens_out / seconds
        return Q_(seconds, "s").to("ms" if metric.endswith("_ms") else "s").magnitude
    p.skipped = f"metric {metric} is not predicted (disaggregated or per-node serving)"
    return None


def run(path: str | Path | None = None) -> list[Point]:
    """Every point, predicted in bound and estimate mode."""
    points = load(path)
    for p in points:
        p.bound = predict(p, "bound")
        if p.skipped is None:
            p.estimate = predict(p, "estimate")
    return points


def error(points: list[Point], mode: str) -> tuple[float, float, int]:
    """(geometric-mean error, geometric-mean measured/predicted, points) of the predicted points."""
    ratios = [p.measured / getattr(p, mode) for p in points if getattr(p, mode)]
    if not ratios:
        return math.nan, math.nan, 0
    logs = [math.log(x) for x in ratios]
    return (math.exp(sum(abs(v) for v in logs) / len(logs)) - 1, math.exp(sum(logs) / len(logs)), len(ratios))


def _kind(metric: str) -> str:
    if metric in LATENCY:
        return "time per output token"
    if metric == "ttft_ms":
        return "time to first token"
    if metric.startswith("e2e"):
        return "end-to-end latency"
    return "output throughput"


def report(path: str | Path | None = None, fmt: str = "table", show_rows: bool = True) -> str:
    """The validation report: per point and the error per metric, chip and mode."""
    points = run(path)
    done = [p for p in points if p.skipped is None and p.bound]
    groups: dict[str, list[Point]] = {"all": done}
    for p in done:
        groups.setdefault(_kind(p.row["metric"]), []).append(p)
        groups.setdefault(f"chip {p.row['chip']}", []).append(p)
    summary = {name: {m: dict(zip(("error", "measured_over_predicted", "points"), error(ps, m), strict=True))
                      for m in ("bound", "estimate")} for name, ps in groups.items()}
    if fmt == "json":
        return json.dumps({"summary": summary, "points": [
            {"line": p.line, "label": p.label, "measured": p.measured, "bound": p.bound, "estimate": p.estimate,
             "skipped": p.skipped, "source": p.row["source"]} for p in points]}, indent=1)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["line", "point", "measured", "bound", "estimate", "measured_over_bound",
                    "measured_over_estimate", "skipped"])
        for p in points:
            w.writerow([p.line, p.label, p.measured, p.bound or "", p.estimate or "",
                        f"{p.measured / p.bound:.4f}" if p.bound else "",
                        f"{p.measured / p.estimate:.4f}" if p.estimate else "", p.skipped or ""])
        return buf.getvalue().rstrip("\n")
    lines = []
    if show_rows:
        lines.append(f"{'measured / predicted':>22}  bound  estimate  point")
        for p in points:
            if p.skipped is not None:
                continue
            est = f"{p.measured / p.estimate:8.2f}" if p.estimate else f"{'n/a':>8}"
            lines.append(f"{'':>20}{p.measured / p.bound:7.2f}  {est}  {p.label}")
        skipped = [p for p in points if p.skipped is not None]
        if skipped:
            lines.append(f"\nnot predicted ({len(skipped)} points): " + "; ".join(
                sorted({p.skipped for p in skipped})))
        lines.append("")
    lines.append(f"{'error (geometric mean)':<34} {'bound':>22} {'estimate':>22}")
    for name, s in summary.items():
        b, e = s["bound"], s["estimate"]
        lines.append(f"  {name:<32} {b['error']:7.1%} (x{b['measured_over_predicted']:4.2f}, {b['points']:3d})"
                     f" {e['error']:7.1%} (x{e['measured_over_predicted']:4.2f}, {e['points']:3d})")
    lines.append("(x: geometric mean of measured / predicted; n: points)")
    return "\n".join(lines)
