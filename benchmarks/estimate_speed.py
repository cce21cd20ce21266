"""Estimate mode costs what bound mode costs: the same formulas with a few more terms, in one process.

    python benchmarks/estimate_speed.py [--points N] [--evaluations N]

Reports, for LLaMA 3-70B on an H100 (shipped calibration), the ratio of
estimate-mode to bound-mode time for (1) one ``symroof.evaluate`` of every
quantity and (2) a compiled sweep of step time and tokens/s/chip over batch x
context. Both modes run interleaved in this process. A report, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy

import symroof
from symroof.sweep import compile_sweep

MODEL, CHIP = "llama-3-70b", "h100"


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--evaluations", type=int, default=20)
    args = parser.parse_args()

    symroof.evaluate(MODEL, CHIP)  # warm the catalog and the derivation cache
    symroof.evaluate(MODEL, CHIP, estimate=True)
    one = {mode: median_time(lambda m=mode: symroof.evaluate(MODEL, CHIP, estimate=m == "estimate"),
                             args.evaluations) for mode in ("bound", "estimate")}

    side = int(args.points ** 0.5)
    batch, context = (a.ravel() for a in numpy.meshgrid(numpy.linspace(1, 512, side),
                                                        numpy.linspace(1024, 32768, side)))
    outputs = ("step_time", "tokens_per_second_per_chip")
    grid = {}
    for mode in ("bound", "estimate"):
        f = compile_sweep(MODEL, CHIP, ("batch_size", "context_length"), outputs, {"n_chips": 2}, mode=mode)
        f(batch_size=batch, context_length=context)
        grid[mode] = median_time(lambda f=f: f(batch_size=batch, context_length=context), 5)

    print("LLaMA 3-70B on H100, estimate mode over bound mode (same process, medians):")
    print(f"  one evaluate (every quantity): bound {one['bound'] * 1e3:7.1f} ms  estimate "
          f"{one['estimate'] * 1e3:7.1f} ms  ratio {one['estimate'] / one['bound']:.2f}")
    print(f"  sweep of {batch.size:,} points:     bound {grid['bound'] * 1e3:7.1f} ms  estimate "
          f"{grid['estimate'] * 1e3:7.1f} ms  ratio {grid['estimate'] / grid['bound']:.2f}")


if __name__ == "__main__":
    main()
