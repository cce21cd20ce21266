"""Timing the kernels with PyTorch: bandwidth and FLOP ceilings, decode matmuls and attention, prefill layers.

PyTorch is imported by :func:`import_torch` only, when a run starts (it is an optional, heavy dependency);
every function here receives it through :class:`Run`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..core.errors import InputError
from .shapes import BF16_BYTES, Row, Shapes, describe, layer_params

NO_TORCH = 'measuring needs PyTorch: pip install "symroof[measure]" (or ".[measure]" from a checkout)'


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


MEASURES: dict[str, Callable[[Run, list[Row]], Iterator[Row | None]]] = {
    "ceilings": measure_ceilings, "matmul": measure_matmul, "attention": measure_attention,
    "prefill": measure_prefill,
}


def import_torch() -> Any:
    """PyTorch, or an ``InputError`` saying how to install it."""
    try:
        import torch  # heavy and optional: imported when a run starts, never with the package
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


