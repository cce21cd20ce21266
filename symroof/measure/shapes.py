"""What ``symroof measure`` measures: the shapes of a run, and each file's rows and columns.

Each plan lists the rows of one file with every column but the measured ones, in the order they are measured.
The byte and FLOP columns are the formulas calibrate fits against; they depend on nothing measured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PARTS = ("ceilings", "matmul", "attention", "prefill")

#: Each part's file and columns, exactly as in the shared measurements.
COLUMNS: dict[str, tuple[str, ...]] = {
    "ceilings": ("what", "bytes", "flops", "seconds", "rate", "unit"),
    "matmul": ("dtype", "B", "D", "F", "seconds", "flops", "weight_bytes", "act_bytes"),
    "attention": ("kernel", "B", "S", "n_heads", "n_kv_heads", "d_head", "seconds", "kv_bytes"),
    "prefill": ("n_layers", "T", "seconds", "matmul_flops", "attn_flops", "param_bytes"),
}

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


PLANS: dict[str, Callable[[Shapes, bool], list[Row]]] = {
    "ceilings": ceilings_plan, "matmul": matmul_plan,
    "attention": lambda s, fp8: attention_plan(s), "prefill": lambda s, fp8: prefill_plan(s),
}
