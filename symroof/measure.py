"""Measure the roofline ingredients of your own GPU, as CSV files that ``symroof calibrate`` fits.

Run ``python -m symroof.measure OUT_DIR`` on the machine to be modelled. It writes, into OUT_DIR:

- ``ceilings.csv`` ``what,bytes,flops,seconds,rate,unit``: copy and read bandwidth over 2 GiB of bf16, and the dense
  matmul rate of an 8192-cube matmul in bf16 (and fp8 where the device has fp8 matmuls);
- ``matmul.csv`` ``dtype,B,D,F,seconds,flops,weight_bytes,act_bytes``: decode-shaped matmuls ``[B,D] x [D,F]``
  (D = 8192; F = 28672, LLaMA-3-70B's MLP width, and 3584, an eighth of it), B = 1, 2, 4, ... 8192;
- ``attention.csv`` ``kernel,B,S,n_heads,n_kv_heads,d_head,seconds,kv_bytes``: decode attention, one query token per
  sequence against S cached tokens, grouped-query (64 query heads, 8 KV heads, d_head 128), as two batched matmuls
  (``bmm``) and as PyTorch's fused kernel (``sdpa``);
- ``prefill.csv`` ``n_layers,T,seconds,matmul_flops,attn_flops,param_bytes``: a prefill of T tokens through four
  LLaMA-3-70B-shaped decoder layers;
- ``env.txt``: one ``key value`` line each for the device, the versions, whether fp8 was measured and whether this
  was a ``--smoke`` run.

The columns and the way of timing are those of the project's shared measurements (``measure_roofline.py``): each
time is the median of 30 timed calls after 5 warm-up calls, timed with CUDA events; attention is replayed from a CUDA
graph so that kernel-launch gaps do not count. ``--smoke`` runs tiny shapes on the CPU in a few seconds, to check the
logic, and says so in env.txt so that its numbers are never fitted as a real device's.

PyTorch is imported only inside the functions that time things: ``import symroof.measure`` works without it.
"""

from __future__ import annotations

import argparse
import csv
import io
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

from .core.errors import InputError, SymroofError
from .core.files import write_text_atomically

PARTS = ("ceilings", "matmul", "attention", "prefill")

#: Each part's file and columns, exactly as in the shared measurements.
COLUMNS: dict[str, tuple[str, ...]] = {
    "ceilings": ("what", "bytes", "flops", "seconds", "rate", "unit"),
    "matmul": ("dtype", "B", "D", "F", "seconds", "flops", "weight_bytes", "act_bytes"),
    "attention": ("kernel", "B", "S", "n_heads", "n_kv_heads", "d_head", "seconds", "kv_bytes"),
    "prefill": ("n_layers", "T", "seconds", "matmul_flops", "attn_flops", "param_bytes"),
}

NO_TORCH = 'measuring needs PyTorch: pip install "symroof[measure]" (or ".[measure]" from a checkout)'

BF16_BYTES = 2
FP8_BYTES = 1

Row = dict[str, Any]
ProgressCallback = Callable[[int, int], None]  # (rows done, rows in all), like symroof.progress.Progress


@dataclass(frozen=True)
class Shapes:
    """Every size one run uses, so that the full and the smoke runs share all of their code."""

    stream_values: int  # bf16 values copied and summed for the bandwidth ceilings
    square: int  # side of the square matmul for the FLOP-rate ceilings
    matmul_d: int
    matmul_f: tuple[int, ...]
    matmul_b: tuple[int, ...]
    attention_s: tuple[int, ...]
    attention_b: tuple[int, ...]
    n_heads: int  # query heads, for attention and the prefill layers alike
    n_kv_heads: int
    d_head: int
    n_layers: int
    layer_d: int
    layer_f: int
    prefill_t: tuple[int, ...]
    warmup: int
    iters: int
    prefill_iters: int  # a prefill is long and not graph-replayed: fewer calls give a steady median


#: The shapes of the shared measurements: LLaMA-3-70B on one GPU.
FULL = Shapes(stream_values=1 << 30, square=8192, matmul_d=8192, matmul_f=(28672, 3584),
              matmul_b=tuple(1 << i for i in range(14)), attention_s=(1024, 4096, 8192, 32768),
              attention_b=(1, 8, 32, 64, 128), n_heads=64, n_kv_heads=8, d_head=128,
              n_layers=4, layer_d=8192, layer_f=28672, prefill_t=(512, 2048, 8192),
              warmup=5, iters=30, prefill_iters=10)

#: Tiny shapes for checking the logic on a laptop's CPU in a few seconds; the numbers mean nothing.
SMOKE = Shapes(stream_values=1 << 20, square=128, matmul_d=256, matmul_f=(512, 64), matmul_b=(1, 2, 4, 8, 16),
               attention_s=(64, 256), attention_b=(1, 4), n_heads=4, n_kv_heads=2, d_head=64,
               n_layers=2, layer_d=256, layer_f=512, prefill_t=(16, 64),
               warmup=1, iters=3, prefill_iters=2)


# ----------------------------------------------------------------------------------------------- what is measured
# Each plan lists the rows of one file with every column but the measured ones, in the order they are measured.
# The byte and FLOP columns are the formulas calibrate fits against; they depend on nothing measured.

def ceilings_plan(s: Shapes, fp8: bool) -> list[Row]:
    """Copy (bytes read plus written), read (bytes read) and dense matmul ceilings."""
    n, m = s.stream_values, s.square
    rows = [dict(what="copy_bandwidth", bytes=2 * n * BF16_BYTES, flops=0, unit="byte/s"),
            dict(what="read_bandwidth", bytes=n * BF16_BYTES, flops=0, unit="byte/s"),
            dict(what="matmul_bf16", bytes=3 * m * m * BF16_BYTES, flops=2 * m**3, unit="FLOP/s")]
    if fp8:  # fp8 inputs, bf16 output
        rows.append(dict(what="matmul_fp8", bytes=2 * m * m * FP8_BYTES + m * m * BF16_BYTES, flops=2 * m**3,
                         unit="FLOP/s"))
    return rows


def matmul_plan(s: Shapes, fp8: bool) -> list[Row]:
    """Decode-shaped matmuls; fp8 only where B is a multiple of 16, as fp8 tensor-core matmuls require."""
    rows = []
    d = s.matmul_d
    for f in s.matmul_f:
        for b in s.matmul_b:
            rows.append(dict(dtype="bf16", B=b, D=d, F=f, flops=2 * b * d * f, weight_bytes=BF16_BYTES * d * f,
                             act_bytes=BF16_BYTES * b * d + BF16_BYTES * b * f))
            if fp8 and b % 16 == 0:
                rows.append(dict(dtype="fp8", B=b, D=d, F=f, flops=2 * b * d * f, weight_bytes=FP8_BYTES * d * f,
                                 act_bytes=FP8_BYTES * b * d + BF16_BYTES * b * f))
    return rows


def kv_bytes(b: int, seq: int, n_kv_heads: int, d_head: int) -> int:
    """Bytes of a bf16 KV cache: K and V for B sequences of S tokens."""
    return 2 * b * seq * n_kv_heads * d_head * BF16_BYTES


def attention_plan(s: Shapes) -> list[Row]:
    """Decode attention over every (S, B), naive and fused kernel side by side."""
    rows = []
    for seq in s.attention_s:
        for b in s.attention_b:
            for kernel in ("bmm", "sdpa"):
                rows.append(dict(kernel=kernel, B=b, S=seq, n_heads=s.n_heads, n_kv_heads=s.n_kv_heads,
                                 d_head=s.d_head, kv_bytes=kv_bytes(b, seq, s.n_kv_heads, s.d_head)))
    return rows


def layer_params(s: Shapes) -> int:
    """Weights of one decoder layer: fused QKV, output projection, gated MLP (RMSNorm gains, 2 D, left out)."""
    d, f, h = s.layer_d, s.layer_f, s.d_head
    return d * (s.n_heads + 2 * s.n_kv_heads) * h + s.n_heads * h * d + d * 2 * f + f * d


def prefill_plan(s: Shapes) -> list[Row]:
    """Prefill of one sequence of T tokens; causal attention does half of the 4 T^2 n_heads d_head FLOPs."""
    return [dict(n_layers=s.n_layers, T=t, matmul_flops=s.n_layers * 2 * t * layer_params(s),
                 attn_flops=s.n_layers * 2 * s.n_heads * s.d_head * t * t,
                 param_bytes=s.n_layers * layer_params(s) * BF16_BYTES)
            for t in s.prefill_t]


IDENTITY = {"ceilings": ("what",), "matmul": ("dtype", "B", "F"), "attention": ("kernel", "B", "S"), "prefill": ("T",)}


def describe(part: str, row: Row) -> str:
    """A row's identity in a few words, for the list of skipped rows."""
    return f"{part} " + " ".join(f"{key}={row[key]}" for key in IDENTITY[part])


# ----------------------------------------------------------------------------------------------------- timing
class Timer:
    """Medians of timed calls: CUDA events on a GPU (what the kernels took), the host clock on a CPU."""

    def __init__(self, torch: Any, device: str, shapes: Shapes) -> None:
        self.torch = torch
        self.device = device
        self.cuda = device == "cuda"
        self.warmup = shapes.warmup
        self.iters = shapes.iters

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def seconds(self, fn: Callable[[], object], iters: int | None = None) -> float:
        """Median seconds per call, after warm-up calls that take the one-off costs (allocation, autotuning)."""
        for _ in range(self.warmup):
            fn()
        self.sync()
        samples = []
        for _ in range(iters or self.iters):
            if self.cuda:
                start = self.torch.cuda.Event(enable_timing=True)
                end = self.torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                samples.append(start.elapsed_time(end) / 1e3)
            else:
                t0 = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - t0)
        return statistics.median(samples)

    def graph_seconds(self, fn: Callable[[], object]) -> float:
        """Seconds per replay of ``fn`` captured in a CUDA graph: a multi-kernel call without launch gaps.

        Decode attention takes microseconds, about as long as launching its kernels; serving engines replay graphs
        for the same reason. Capture needs a warmed-up side stream (cuBLAS handles, workspaces).
        """
        if not self.cuda:
            return self.seconds(fn)
        torch = self.torch
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                fn()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            fn()
        try:
            return self.seconds(graph.replay)
        finally:
            del graph


class Skip(Exception):
    """A row that cannot be measured on this device (not enough memory); the run goes on without it."""


@dataclass
class Run:
    """What every part needs: torch, the device, the timer, and the rows left out so far."""

    torch: Any
    device: str
    shapes: Shapes
    timer: Timer
    fp8: bool
    skipped: list[str]

    @property
    def cuda(self) -> bool:
        return self.device == "cuda"

    def randn(self, *shape: int, scale: float = 1.0) -> Any:
        """A random bf16 tensor made on the device (no host copy, no fp32 temporary)."""
        t = self.torch.randn(*shape, device=self.device, dtype=self.torch.bfloat16)
        return t.mul_(scale) if scale != 1.0 else t

    def fits(self, nbytes: int) -> None:
        """Refuse (``Skip``) a shape whose tensors would not fit in the GPU's free memory.

        Checked before allocating, because running out of memory inside a CUDA graph capture can leave the
        device unusable for the rest of the run; smaller GPUs than the H100 then still measure what fits.
        """
        if self.cuda:
            free, _ = self.torch.cuda.mem_get_info()
            if nbytes > 0.9 * free:
                raise Skip(f"needs about {nbytes / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free")

    def release(self) -> None:
        """Give cached blocks back, so that one shape's tensors do not crowd out the next's."""
        if self.cuda:
            self.torch.cuda.empty_cache()

    def attempt(self, part: str, row: Row, measure_row: Callable[[Row], Row]) -> Row | None:
        """``measure_row(row)``, or None when it does not fit in memory (then listed in ``skipped``)."""
        try:
            return measure_row(row)
        except (Skip, out_of_memory(self.torch)) as exc:
            reason = str(exc) if isinstance(exc, Skip) else "out of memory"
            self.skipped.append(f"{describe(part, row)} ({reason})")
            self.release()
            return None


def out_of_memory(torch: Any) -> type[Exception]:
    """The exception PyTorch raises when an allocation fails (``torch.OutOfMemoryError`` since 2.5)."""
    return getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError


def column_major_fp8(run: Run, w: Any) -> Any:
    """``w`` as fp8 e4m3 in column-major layout, the layout ``torch._scaled_mm`` needs for its second operand."""
    return w.t().contiguous().to(run.torch.float8_e4m3fn).t()


def fp8_matmul(run: Run, a8: Any, b8: Any) -> Callable[[], object]:
    """A call of the fp8 matmul with unit per-tensor scales and a bf16 output, as fp8 serving does."""
    torch = run.torch
    one = torch.ones((), device=run.device, dtype=torch.float32)
    return lambda: torch._scaled_mm(a8, b8, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)


# ----------------------------------------------------------------------------------------------------- the parts
# Each part yields one measured row, or None for a row left out, per planned row, in the plan's order.

def measure_ceilings(run: Run, rows: list[Row]) -> Iterator[Row | None]:
    """Bandwidth from a copy and a sum over 2 GiB (far beyond any cache); FLOP rate from a square matmul."""
    torch, s = run.torch, run.shapes
    held: dict[str, Any] = {}

    def one(row: Row) -> Row:
        what = row["what"]
        if what in ("copy_bandwidth", "read_bandwidth"):
            if "a" not in held:
                run.fits(2 * s.stream_values * BF16_BYTES)
                held["a"] = run.randn(s.stream_values)
                held["b"] = torch.empty_like(held["a"])
            a, b = held["a"], held["b"]
            fn = (lambda: b.copy_(a)) if what == "copy_bandwidth" else (lambda: torch.sum(a, dtype=torch.float32))
        else:
            held.pop("a", None)  # free the 4 GiB of the bandwidth rows before the matmuls
            held.pop("b", None)
            if "x" not in held:
                held["x"], held["y"] = run.randn(s.square, s.square), run.randn(s.square, s.square)
            x, y = held["x"], held["y"]
            if what == "matmul_bf16":
                fn = lambda: x @ y  # noqa: E731
            else:
                fn = fp8_matmul(run, x.to(torch.float8_e4m3fn), column_major_fp8(run, y))
        seconds = run.timer.seconds(fn)
        work = row["flops"] if row["unit"] == "FLOP/s" else row["bytes"]
        return {**row, "seconds": seconds, "rate": work / seconds}

    for row in rows:
        yield run.attempt("ceilings", row, one)


def measure_matmul(run: Run, rows: list[Row]) -> Iterator[Row | None]:
    """``X @ W`` with W made once per F, so that only the activations change from row to row."""
    weights: dict[int, tuple[Any, Any]] = {}

    def one(row: Row) -> Row:
        b, d, f = row["B"], row["D"], row["F"]
        if f not in weights:
            weights.clear()
            run.release()
            w = run.randn(d, f)
            weights[f] = (w, column_major_fp8(run, w) if run.fp8 else None)
        w, w8 = weights[f]
        x = run.randn(b, d)
        if row["dtype"] == "bf16":
            fn = lambda: x @ w  # noqa: E731
        else:
            fn = fp8_matmul(run, x.to(run.torch.float8_e4m3fn), w8)
        return {**row, "seconds": run.timer.seconds(fn)}

    for row in rows:
        yield run.attempt("matmul", row, one)


def attention_call(run: Run, row: Row) -> Callable[[], object]:
    """One decode-attention call for ``row``'s kernel, over a fresh random bf16 KV cache.

    ``bmm`` is what a naive implementation does: scores as one batched matmul per KV head (the query heads that
    share it stacked as rows), softmax in fp32, then a second batched matmul with V. ``sdpa`` is PyTorch's fused
    kernel with grouped-query attention, like the fused kernels of serving engines.
    """
    torch = run.torch
    b, seq, nq, nkv, dh = row["B"], row["S"], row["n_heads"], row["n_kv_heads"], row["d_head"]
    scores_bytes = 10 * b * nq * seq  # fp32 scores, their fp32 softmax and its bf16 copy (bmm only)
    run.fits(row["kv_bytes"] + (scores_bytes if row["kernel"] == "bmm" else 0))
    k = run.randn(b, nkv, seq, dh)
    v = run.randn(b, nkv, seq, dh)
    q = run.randn(b, nkv, nq // nkv, dh)
    if row["kernel"] == "bmm":
        scale = dh**-0.5

        def bmm() -> object:
            scores = torch.matmul(q, k.transpose(-1, -2)) * scale
            return torch.matmul(torch.softmax(scores.float(), dim=-1).to(torch.bfloat16), v)

        return bmm
    q_heads = q.reshape(b, nq, 1, dh)  # query head h reads KV head h // (nq // nkv), as enable_gqa expects
    return lambda: torch.nn.functional.scaled_dot_product_attention(q_heads, k, v, enable_gqa=True)


def measure_attention(run: Run, rows: list[Row]) -> Iterator[Row | None]:
    """Each row timed from a CUDA graph (see ``Timer.graph_seconds``), its tensors freed before the next."""

    def one(row: Row) -> Row:
        return {**row, "seconds": run.timer.graph_seconds(attention_call(run, row))}

    for row in rows:
        yield run.attempt("attention", row, one)
        run.release()


def decoder_layers(run: Run) -> list[dict[str, Any]]:
    """Random bf16 weights of ``n_layers`` LLaMA-shaped layers, scaled by 1/sqrt(fan-in) to keep activations O(1)."""
    s = run.shapes
    d, f, qkv = s.layer_d, s.layer_f, (s.n_heads + 2 * s.n_kv_heads) * s.d_head
    run.fits(s.n_layers * layer_params(s) * BF16_BYTES)
    return [dict(wqkv=run.randn(d, qkv, scale=d**-0.5), wo=run.randn(s.n_heads * s.d_head, d, scale=d**-0.5),
                 wgu=run.randn(d, 2 * f, scale=d**-0.5), wd=run.randn(f, d, scale=f**-0.5))
            for _ in range(s.n_layers)]


def prefill_call(run: Run, layers: list[dict[str, Any]], t: int) -> Callable[[], object]:
    """A prefill of one sequence of ``t`` tokens.

    Per layer: RMSNorm, fused QKV projection, causal grouped-query ``sdpa``, output projection, RMSNorm, gated SiLU
    MLP, with residuals. No RoPE: it is elementwise, a rounding error next to the matmuls.
    """
    functional = run.torch.nn.functional
    s = run.shapes
    d, f, nq, nkv, dh = s.layer_d, s.layer_f, s.n_heads, s.n_kv_heads, s.d_head
    run.fits(t * (12 * d + 10 * f) * BF16_BYTES)  # residual, norms, QKV, attention out, gate/up, SiLU, product
    x0 = run.randn(1, t, d)

    def heads(z: Any, first: int, count: int) -> Any:
        return z[..., first * dh:(first + count) * dh].reshape(1, t, count, dh).transpose(1, 2)

    def prefill() -> object:
        h = x0
        for w in layers:
            qkv = functional.rms_norm(h, (d,)) @ w["wqkv"]
            attn = functional.scaled_dot_product_attention(heads(qkv, 0, nq), heads(qkv, nq, nkv),
                                                           heads(qkv, nq + nkv, nkv), is_causal=True,
                                                           enable_gqa=True)
            h = h + attn.transpose(1, 2).reshape(1, t, nq * dh) @ w["wo"]
            gate_up = functional.rms_norm(h, (d,)) @ w["wgu"]
            h = h + (functional.silu(gate_up[..., :f]) * gate_up[..., f:]) @ w["wd"]
        return h

    return prefill


def measure_prefill(run: Run, rows: list[Row]) -> Iterator[Row | None]:
    """Prefill timed call by call: not graph-replayed, its kernels are long enough that launch gaps do not show."""
    held: dict[str, Any] = {}

    def one(row: Row) -> Row:
        if "layers" not in held:
            held["layers"] = decoder_layers(run)
        fn = prefill_call(run, held["layers"], row["T"])
        return {**row, "seconds": run.timer.seconds(fn, iters=run.shapes.prefill_iters)}

    for row in rows:
        yield run.attempt("prefill", row, one)
        run.release()


PLANS: dict[str, Callable[[Shapes, bool], list[Row]]] = {
    "ceilings": ceilings_plan, "matmul": matmul_plan,
    "attention": lambda s, fp8: attention_plan(s), "prefill": lambda s, fp8: prefill_plan(s),
}
MEASURES: dict[str, Callable[[Run, list[Row]], Iterator[Row | None]]] = {
    "ceilings": measure_ceilings, "matmul": measure_matmul, "attention": measure_attention,
    "prefill": measure_prefill,
}


# ----------------------------------------------------------------------------------------------------- the run
def import_torch() -> Any:
    """PyTorch, or an ``InputError`` saying how to install it."""
    try:
        import torch
    except ImportError:
        raise InputError(NO_TORCH) from None
    return torch


def fp8_support(torch: Any, device: str) -> tuple[bool, str]:
    """Whether fp8 matmuls can be timed here, and why not: checked by running a tiny one."""
    if device != "cuda":
        return False, f"no fp8 matmul on {device}"
    if not (hasattr(torch, "_scaled_mm") and hasattr(torch, "float8_e4m3fn")):
        return False, f"torch {torch.__version__} has no fp8 matmul"
    major, minor = torch.cuda.get_device_capability()
    if (major, minor) < (8, 9):
        return False, f"compute capability {major}.{minor} has no fp8 tensor cores"
    try:
        a = torch.ones(16, 16, device=device).to(torch.float8_e4m3fn)
        one = torch.ones((), device=device)
        torch._scaled_mm(a, a.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
        torch.cuda.synchronize()
    except RuntimeError as exc:
        return False, "fp8 matmul failed: " + (str(exc).strip().splitlines() or ["?"])[0][:200]
    return True, "torch._scaled_mm, e4m3 inputs, bf16 output"


def environment(torch: Any, device: str, smoke: bool, fp8: tuple[bool, str], parts: Iterable[str]) -> list[str]:
    """``key value`` lines for env.txt: the shared files' keys first, then what calibrate must know of the run."""
    from .core.version import __version__

    lines = [f"torch {torch.__version__}", f"python {platform.python_version()}"]
    if device == "cuda":
        p = torch.cuda.get_device_properties(0)
        lines += [f"device {p.name}", f"sms {p.multi_processor_count}", f"memory_bytes {p.total_memory}",
                  f"cuda {torch.version.cuda}", f"compute_capability {p.major}.{p.minor}"]
        if torch.backends.cudnn.is_available():
            lines.append(f"cudnn {torch.backends.cudnn.version()}")
    else:
        lines += [f"device cpu {platform.machine()}", f"threads {torch.get_num_threads()}"]
    lines += [f"smoke {'true' if smoke else 'false'}",
              f"fp8 {'yes' if fp8[0] else 'no'} ({fp8[1]})",
              f"parts {','.join(p for p in PARTS if p in parts)}",
              f"symroof {__version__}",
              f"date {datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}"]
    return lines


def csv_text(columns: Iterable[str], rows: Iterable[Row]) -> str:
    """CSV as the shared files have it (Python's csv dialect, floats written in full)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def check_request(out_dir: Path, smoke: bool, device: str, parts: set[str]) -> None:
    """One-line errors for what the user asked, before anything is measured or written."""
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise InputError(f"--only {','.join(unknown)}: not a part; choose from {','.join(PARTS)}")
    if not parts:
        raise InputError(f"--only names no part; choose from {','.join(PARTS)}")
    if device not in ("cuda", "cpu"):
        raise InputError(f"--device {device}: choose cuda or cpu")
    if device == "cpu" and not smoke:
        raise InputError("full-size shapes need a GPU (2 GiB copies, a 17 GB KV cache); on a CPU give --smoke")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder; give a folder for the CSV files")


def measure(out_dir: Path, *, smoke: bool, device: str, parts: set[str],
            progress: ProgressCallback | None = None) -> list[Path]:
    """Measure ``parts`` on ``device`` and write their CSV files and env.txt into ``out_dir``; return the paths.

    env.txt is written first, so that whatever a run leaves says what made it; each CSV is written whole
    (atomically) once its part is done, so an interrupted run never leaves a half-written file. Rows whose
    tensors do not fit in the GPU's memory are left out and listed in env.txt (``skipped``).
    Raises ``InputError`` for a bad request, ``OSError`` for a folder that cannot be written.
    """
    out_dir = Path(out_dir)
    check_request(out_dir, smoke, device, parts)
    torch = import_torch()
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: PyTorch sees no CUDA GPU here" + (
            "" if torch.version.cuda else f" (torch {torch.__version__} is a CPU-only build)"))
    shapes = SMOKE if smoke else FULL
    torch.manual_seed(0)
    fp8 = fp8_support(torch, device)
    run = Run(torch=torch, device=device, shapes=shapes, timer=Timer(torch, device, shapes), fp8=fp8[0], skipped=[])
    env = environment(torch, device, smoke, fp8, parts)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "env.txt"]
    write_text_atomically("\n".join(env) + "\n", written[0])

    plans = {part: PLANS[part](shapes, run.fp8) for part in PARTS if part in parts}
    total, done = sum(len(rows) for rows in plans.values()), 0
    for part, plan in plans.items():
        measured = []
        for row in MEASURES[part](run, plan):
            done += 1
            if progress is not None:
                progress(done, total)
            if row is not None:
                measured.append(row)
        run.release()
        if measured:
            path = out_dir / f"{part}.csv"
            write_text_atomically(csv_text(COLUMNS[part], measured), path)
            written.append(path)
    if run.skipped:
        write_text_atomically("\n".join([*env, "skipped " + "; ".join(run.skipped)]) + "\n", written[0])
    return written


# ----------------------------------------------------------------------------------------------------- command line
class _OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line (``symroof: error: ...``) and status 2, like every other error here."""

    def error(self, message: str) -> NoReturn:
        raise InputError(message)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m symroof.measure`` (and of a ``symroof measure`` command wired to ``cmd_measure``)."""
    parser.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="folder for the CSV files and env.txt")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny shapes in a few seconds, to check the set-up; marked in env.txt, never fitted")
    parser.add_argument("--device", metavar="cuda|cpu",
                        help="where to measure: cuda (the default) or cpu (only with --smoke, where it is the default)")
    parser.add_argument("--only", metavar="PARTS", default=",".join(PARTS),
                        help=f"comma-separated parts to measure (default all: {','.join(PARTS)})")


def cmd_measure(args: argparse.Namespace) -> str:
    """Run what ``args`` asks for; return the written paths, one a line. Raises ``SymroofError``/``OSError``."""
    from .core.progress import Progress

    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    device = args.device or ("cpu" if args.smoke else "cuda")
    paths = measure(args.out_dir, smoke=args.smoke, device=device, parts=parts,
                    progress=Progress(sys.stderr, enabled=True))
    return "\n".join(str(p) for p in paths)


def main(argv: list[str] | None = None) -> int:
    """``python -m symroof.measure OUT_DIR [--smoke] [--device cuda|cpu] [--only PARTS]``; returns the exit status."""
    parser = _OneLineParser(prog="python -m symroof.measure",
                            description="Measure this GPU's roofline ingredients as CSV files for symroof calibrate.")
    add_arguments(parser)
    try:
        out = cmd_measure(parser.parse_args(argv))
    except SymroofError as exc:
        print(f"symroof: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symroof: interrupted; files already written are whole, the part in progress was not written",
              file=sys.stderr)
        return 130
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"symroof: error: cannot write{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
