"""Fitting a calibration: the estimate factors of a chip from its measured kernels (``symroof calibrate``).

The fit is done on the declared formulas: each row of a CSV sets the inputs
of a declared kernel-time quantity (``matmul_kernel_time``,
``attention_kernel_time``, ``prefill_time``), compiled once like a sweep, and
the factors are chosen to minimise the squared error of log time
(:mod:`symroof.fitting`). :func:`to_toml` writes the file
:mod:`symroof.calibration` reads.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy

from . import catalog
from .calibration import GENERIC, load, reported, shipped_folder
from .core.errors import InputError
from .derive import table
from .evaluation import evaluate
from .fitting import fraction, fraction_inverse, log_errors, nelder_mead, summary
from .sweep import compile_sweep

KERNELS = ("sdpa", "bmm")
MAX_RESIDUAL = 0.25  # a fit whose geometric-mean error per kernel family exceeds this is refused
COLUMNS = {
    "ceilings.csv": ("what", "bytes", "flops", "seconds", "rate", "unit"),
    "matmul.csv": ("dtype", "B", "D", "F", "seconds", "flops", "weight_bytes", "act_bytes"),
    "attention.csv": ("kernel", "B", "S", "n_heads", "n_kv_heads", "d_head", "seconds", "kv_bytes"),
    "prefill.csv": ("n_layers", "T", "seconds", "matmul_flops", "attn_flops", "param_bytes"),
}
TEXT_COLUMNS = ("what", "unit", "dtype", "kernel")
COMM_OVERLAP = ("0: a decode step's all-reduces sit between a layer's matmuls, on its critical path (not measured "
                "here: the microbenchmarks run on one chip)")



# --- reading measurements --------------------------------------------------------------------------------------

@dataclass
class Measurements:
    """The rows of a measurement folder, checked."""

    folder: Path
    files: dict[str, list[dict]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


def read(folder: str | Path) -> Measurements:
    """Read and check a folder of microbenchmark CSVs (ceilings, matmul, attention; prefill optional)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder of measurements")
    out = Measurements(folder)
    env = folder / "env.txt"
    if env.is_file():
        for line in env.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(" ")
            out.env[key] = value.strip()
    if out.env.get("smoke", "").lower() in ("true", "= true"):
        raise InputError(f"{env}: smoke-test data (tiny shapes on a CPU): its times mean nothing; measure on the GPU")
    for name, columns in COLUMNS.items():
        path = folder / name
        if not path.is_file():
            if name == "prefill.csv":
                continue
            raise InputError(f"{folder}: missing {name}")
        out.files[name] = _rows(path, columns)
    return out


def _chip_token(chip_id: str) -> str:
    """The part of a catalog id a device name spells: h100 -> H100, tpu-v5e -> V5E, gb200-nvl72 -> GB200."""
    return chip_id.upper().removeprefix("TPU-").split("-")[0]


def _same_device(m: Measurements, hardware: catalog.Entry) -> None:
    """Refuse measurements whose env.txt names another catalog chip's device (H100 numbers fitted as a B200)."""
    device = m.env.get("device", "").upper()
    if not device or not hardware.id:
        return
    words = set(re.findall(r"[A-Z0-9]+", device))
    own = _chip_token(hardware.id)
    others = {_chip_token(c): c for c in catalog.ids("hardware") if _chip_token(c) != own}
    named = sorted(c for t, c in others.items() if t in words)
    if named and own not in words:
        raise InputError(f"{m.folder / 'env.txt'}: measured on an {m.env['device']}, not {hardware.name}: calibrate "
                         f"it as --hardware {named[0]}, or measure on the {hardware.id}")


def _rows(path: Path, columns: tuple[str, ...]) -> list[dict]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in columns if c not in header]
            if missing:
                raise InputError(f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
            rows = []
            for number, raw in enumerate(reader, start=2):
                row = {}
                for c in columns:
                    text = (raw.get(c) or "").strip()
                    if c in TEXT_COLUMNS:
                        row[c] = text
                        continue
                    try:
                        value = float(text)
                    except ValueError:
                        raise InputError(f"{path} line {number}: {c} {text!r} is not a number") from None
                    if not math.isfinite(value) or (value <= 0 and c in ("seconds", "B", "D", "F", "S", "T",
                                                                         "n_layers", "rate")):
                        raise InputError(f"{path} line {number}: {c} must be above 0, got {text}")
                    row[c] = value
                row["line"] = number
                rows.append(row)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a text CSV ({exc})") from None
    if not rows:
        raise InputError(f"{path}: no rows")
    return rows


# --- fitting ---------------------------------------------------------------------------------------------------

@dataclass
class Family:
    """One kernel family's fit: how many rows, and the residual error."""

    rows: int
    geomean_error: float
    max_error: float
    measured: list[float] = field(default_factory=list)
    predicted: list[float] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


@dataclass
class Calibration:
    """A fit: each value in its reporting unit, with a source line; per-family residuals."""

    chip: str
    values: dict[str, float]
    sources: dict[str, str]
    families: dict[str, Family]
    data: str
    attention_kernel: str
    converged: bool = True


def _compiled(chip: str, varied: tuple[str, ...], target: str, fixed: dict):
    return compile_sweep("llama-3-70b", chip, varied, (target,), fixed, mode="estimate")


def _check_rate(path: str, row: dict, rate: float, peak: float, what: str, chip: str) -> None:
    if rate > 1.05 * peak:
        raise InputError(f"{path} line {row['line']}: runs at {rate / peak:.2f}x {chip}'s datasheet {what}; "
                         "measured on another chip?")


def fit(folder: str | Path, chip: str, attention_kernel: str = "sdpa") -> Calibration:
    """Fit the estimate factors of ``chip`` from the measurement folder (see the module docstring)."""
    if attention_kernel not in KERNELS:
        raise InputError(f"--attention-kernel {attention_kernel!r}: choose {' or '.join(KERNELS)}")
    hardware = catalog.load("hardware", chip)
    m = read(folder)
    _same_device(m, hardware)
    sheet = evaluate("llama-3-70b", hardware)
    bandwidth, flops = sheet.base["hbm_bandwidth"], sheet.base["chip_flops_bf16"]
    families: dict[str, Family] = {}
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    converged = True

    # matmuls: latency + max(FLOPs / (C eta_F), bytes / (W eta_w)), bf16 rows
    path = str(m.folder / "matmul.csv")
    rows = [r for r in m.files["matmul.csv"] if r["dtype"] == "bf16"]
    if len(rows) < 3:
        raise InputError(f"{path}: needs at least 3 bf16 rows to fit, has {len(rows)}")
    for r in rows:
        if abs(r["flops"] - 2 * r["B"] * r["D"] * r["F"]) > 1e-6 * r["flops"]:
            raise InputError(f"{path} line {r['line']}: flops {r['flops']:g} is not 2 B D F")
        if abs(r["weight_bytes"] - 2 * r["D"] * r["F"]) > 1e-6 * r["weight_bytes"]:
            raise InputError(f"{path} line {r['line']}: weight_bytes {r['weight_bytes']:g} is not 2 D F (bf16)")
        _check_rate(path, r, r["weight_bytes"] / r["seconds"], bandwidth, "HBM bandwidth", chip)
        _check_rate(path, r, r["flops"] / r["seconds"], flops, "bf16 FLOP rate", chip)
    varied = ("batch_size", "d_model", "d_ff", "weight_stream_efficiency", "decode_flops_efficiency",
              "matmul_latency")
    f = _compiled(chip, varied, "matmul_kernel_time", {"n_chips": 1, "weight_dtype": "bf16",
                                                       "compute_dtype": "bf16"})
    b, d, ff = (numpy.array([r[k] for r in rows]) for k in ("B", "D", "F"))
    measured = numpy.array([r["seconds"] for r in rows])

    def predict_mm(p):
        w, fl, lat = fraction(p[0]), fraction(p[1]), math.exp(p[2])
        return f(batch_size=b, d_model=d, d_ff=ff, weight_stream_efficiency=w, decode_flops_efficiency=fl,
                 matmul_latency=lat)["matmul_kernel_time"]

    best = nelder_mead(lambda p: float(numpy.sum(log_errors(measured, predict_mm(p)) ** 2)),
                       [fraction_inverse(0.8), fraction_inverse(0.7), math.log(1e-5)])
    converged &= best.converged
    w, fl, lat = fraction(best.values[0]), fraction(best.values[1]), math.exp(best.values[2])
    families["matmul"] = _family(measured, predict_mm(best.values), [f"B={r['B']:g} F={r['F']:g}" for r in rows])
    note = f"fit: {len(rows)} bf16 rows of matmul.csv, least squares on log time of matmul_kernel_time"
    values.update(weight_stream_efficiency=w, decode_flops_efficiency=fl,
                  matmul_latency=reported("matmul_latency", lat))
    sources.update(weight_stream_efficiency=note, decode_flops_efficiency=note, matmul_latency=note)

    # decode attention: latency + KV bytes / (W eta_kv), rows of the chosen kernel
    path = str(m.folder / "attention.csv")
    rows = [r for r in m.files["attention.csv"] if r["kernel"] == attention_kernel]
    if len(rows) < 2:
        raise InputError(f"{path}: needs at least 2 rows of kernel {attention_kernel} to fit, has {len(rows)}")
    for r in rows:
        want = 2 * r["B"] * r["S"] * r["n_kv_heads"] * r["d_head"] * 2
        if abs(r["kv_bytes"] - want) > 1e-6 * want:
            raise InputError(f"{path} line {r['line']}: kv_bytes {r['kv_bytes']:g} is not 2 B S n_kv_heads d_head "
                             "x 2 bytes")
        _check_rate(path, r, r["kv_bytes"] / r["seconds"], bandwidth, "HBM bandwidth", chip)
    varied = ("batch_size", "context_length", "n_kv_heads", "d_head", "kv_stream_efficiency", "attention_latency")
    g = _compiled(chip, varied, "attention_kernel_time", {"n_chips": 1, "n_layers": 1, "kv_dtype": "bf16"})
    cols = {k: numpy.array([r[k] for r in rows]) for k in ("B", "S", "n_kv_heads", "d_head")}
    measured = numpy.array([r["seconds"] for r in rows])

    def predict_attn(p):
        return g(batch_size=cols["B"], context_length=cols["S"], n_kv_heads=cols["n_kv_heads"],
                 d_head=cols["d_head"], kv_stream_efficiency=fraction(p[0]),
                 attention_latency=math.exp(p[1]))["attention_kernel_time"]

    best = nelder_mead(lambda p: float(numpy.sum(log_errors(measured, predict_attn(p)) ** 2)),
                       [fraction_inverse(0.8), math.log(1e-5)])
    converged &= best.converged
    families["attention"] = _family(measured, predict_attn(best.values),
                                    [f"B={r['B']:g} S={r['S']:g}" for r in rows])
    note = (f"fit: {len(rows)} rows of attention.csv, kernel {attention_kernel}, least squares on log time of "
            "attention_kernel_time")
    values.update(kv_stream_efficiency=fraction(best.values[0]),
                  attention_latency=reported("attention_latency", math.exp(best.values[1])))
    sources.update(kv_stream_efficiency=note, attention_latency=note)

    # prefill through whole layers: max(FLOPs (with attention) / (C MFU), one read of the weights)
    if "prefill.csv" in m.files:
        path = str(m.folder / "prefill.csv")
        rows = m.files["prefill.csv"]
        layers = {r["n_layers"] for r in rows}
        if len(layers) != 1:
            raise InputError(f"{path}: every row must have the same n_layers")
        fixed = {"n_chips": 1, "n_layers": next(iter(layers)), "vocab_size": 1, "weight_dtype": "bf16",
                 "compute_dtype": "bf16", "weight_stream_efficiency": w}
        h = _compiled(chip, ("prefill_length", "prefill_mfu"), "prefill_time", fixed)
        tokens = numpy.array([r["T"] for r in rows])
        measured = numpy.array([r["seconds"] for r in rows])

        def predict_prefill(p):
            return h(prefill_length=tokens, prefill_mfu=fraction(p[0]))["prefill_time"]

        best = nelder_mead(lambda p: float(numpy.sum(log_errors(measured, predict_prefill(p)) ** 2)),
                           [fraction_inverse(0.5)])
        converged &= best.converged
        families["prefill"] = _family(measured, predict_prefill(best.values), [f"T={r['T']:g}" for r in rows])
        values["prefill_mfu"] = fraction(best.values[0])
        sources["prefill_mfu"] = (f"fit: {len(rows)} rows of prefill.csv ({fixed['n_layers']:g} layers, attention "
                                  "FLOPs counted), least squares on log time of prefill_time")
    else:
        generic = load(shipped_folder() / f"{GENERIC}.toml")
        values["prefill_mfu"] = generic.values["prefill_mfu"]
        sources["prefill_mfu"] = "no prefill.csv: the generic value (mean of the chips symroof ships calibrations for)"
    values.update(attention_flops_counted=1.0, prefill_weight_floor=1.0, step_overhead=0.0, comm_overlap=0.0)
    sources.update(attention_flops_counted="estimate mode counts attention FLOPs in prefill",
                   prefill_weight_floor="estimate mode: a prefill takes at least one read of the weights",
                   comm_overlap=COMM_OVERLAP,
                   step_overhead="0: microbenchmarks are replayed from CUDA graphs, with no serving engine around "
                                 "them; set it for an engine's scheduling and sampling time")
    device = m.env.get("device", "")
    data = f"{m.folder.name}: {', '.join(sorted(m.files))}" + (f" ({device})" if device else "")
    return Calibration(chip, values, sources, families, data, attention_kernel, converged)


def _family(measured, predicted, labels) -> Family:
    geo, worst = summary(log_errors(measured, predicted))
    return Family(len(measured), geo, worst, [float(x) for x in measured], [float(x) for x in predicted], labels)


def check(cal: Calibration) -> None:
    """Refuse a fit that did not converge or whose residuals are too large to trust."""
    if not cal.converged:
        raise InputError(f"the fit for {cal.chip} did not converge; nothing written")
    bad = [f"{name} {f.geomean_error:.0%}" for name, f in cal.families.items() if f.geomean_error > MAX_RESIDUAL]
    if bad:
        raise InputError(f"the fit for {cal.chip} misses the data by more than {MAX_RESIDUAL:.0%} "
                         f"(geometric mean: {', '.join(bad)}); nothing written")


def to_toml(cal: Calibration, generator: str) -> str:
    """The calibration file."""
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    t = table()
    lines = [f"# Estimate factors of {cal.chip}, fitted by {generator}.", f"chip = {q(cal.chip)}",
             f"date = {q(date.today().isoformat())}", f"data = {q(cal.data)}",
             f"attention_kernel = {q(cal.attention_kernel)}", f"generator = {q(generator)}", "", "[values]"]
    for key, value in cal.values.items():
        s = t.get(key)
        shown = q(f"{value:.6g} {s.unit_short}") if s.unit_text else f"{value:.6g}"
        lines.append(f"{key} = {{ value = {shown}, source = {q(cal.sources[key])} }}")
    lines += ["", "# per kernel family: rows fitted, geometric-mean and largest relative error", "[residuals]"]
    for name, f in cal.families.items():
        lines.append(f"{name} = {{ rows = {f.rows}, geomean_error = {f.geomean_error:.4f}, "
                     f"max_error = {f.max_error:.4f} }}")
    return "\n".join(lines) + "\n"
