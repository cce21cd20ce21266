"""serve against eval, as whole processes (issue 17: serve adds at most 20% to an eval's run time).

Each round runs both commands back to back (interleaved, so drift hits both alike); medians of the rounds.
serve evaluates both modes with the engine profile; eval one mode.

    python benchmarks/serve_speed.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

EVAL = ["eval", "llama-3.3-70b", "h100", "--set", "n_chips=8", "--estimate"]
SERVE = ["serve", "llama-3.3-70b", "h100", "--input", "1024", "--output", "1024", "--concurrency", "64",
         "--set", "n_chips=8"]


def once(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "symroof.cli", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    once(EVAL)  # the derivation cache, the page cache
    times = {"eval": [], "serve": []}
    for _ in range(rounds):
        times["eval"].append(once(EVAL))
        times["serve"].append(once(SERVE))
    e, s = statistics.median(times["eval"]), statistics.median(times["serve"])
    print(f"eval  {e * 1e3:7.0f} ms\nserve {s * 1e3:7.0f} ms  ({s / e:.2f}x eval)")


if __name__ == "__main__":
    main()
