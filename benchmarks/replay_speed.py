"""The replay against the closed form, in one process (issue 30: 10,000 requests in under 1 s).

Times one closed-form ``serve()`` call (both modes) and the replay of 10,000 requests (1,000 in, 1,000 out, a
closed loop of 256 users, Llama 3.1 8B on an H100) in each mode, after the derivation cache is warm; medians of
the rounds, interleaved so drift hits both alike.

    python benchmarks/replay_speed.py [--rounds N] [--requests N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from symroof.replay import Benchmark, replay
from symroof.serve import serve

ARGS = ("llama-3.1-8b", "h100", 1000, 1000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=10_000)
    options = parser.parse_args()
    served = serve(*ARGS, concurrency=256)  # the derivation cache, the compiled functions
    times = {"serve": [], "bound": [], "estimate": []}
    for _ in range(options.rounds):
        start = time.perf_counter()
        served = serve(*ARGS, concurrency=256)
        times["serve"].append(time.perf_counter() - start)
        for mode, ev in served.evaluations.items():
            start = time.perf_counter()
            replay(ev, Benchmark(requests=options.requests))
            times[mode].append(time.perf_counter() - start)
    s = statistics.median(times["serve"])
    print(f"serve (closed form, both modes) {s * 1e3:8.1f} ms")
    for mode in ("bound", "estimate"):
        r = statistics.median(times[mode])
        print(f"replay {options.requests:,} requests, {mode:<8} {r * 1e3:8.1f} ms  ({r / s:,.0f}x one serve call)")


if __name__ == "__main__":
    main()
