"""The configuration search against one eval, as whole processes (issue 18: the DeepSeek-V3 on H200 search
with service-level targets takes at most 5x one eval).

Each round runs eval and the searched plan back to back (interleaved, so drift hits both alike); medians of the
rounds. The plan searches in the estimate, reports both modes of the chosen layout, and prints how many
configurations it scored; the frontier adds every layout at 14 batches.

    python benchmarks/search_speed.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

EVAL = ["eval", "deepseek-v3", "h200", "--estimate"]
TRAFFIC = ["deepseek-v3", "h200", "--rate", "20/s", "--input", "3000", "--output", "1000", "--ttft-p99", "2s",
           "--tpot", "50ms", "--estimate"]
PLAN = ["plan", *TRAFFIC, "--format", "json"]
FRONTIER = ["plan", *TRAFFIC, "--frontier", "--format", "json"]


def once(args: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "symroof.cli", *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - start, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    once(EVAL)  # the derivation cache, the page cache
    times: dict[str, list[float]] = {"eval": [], "plan": [], "frontier": []}
    for _ in range(rounds):
        times["eval"].append(once(EVAL)[0])
        seconds, out = once(PLAN)
        times["plan"].append(seconds)
        seconds, frontier = once(FRONTIER)
        times["frontier"].append(seconds)
    e, p, f = (statistics.median(times[k]) for k in ("eval", "plan", "frontier"))
    scored = json.loads(out)["search"]["configurations_scored"]
    rows = len(json.loads(frontier)["frontier"])
    print(f"eval            {e * 1e3:7.0f} ms")
    print(f"plan (search)   {p * 1e3:7.0f} ms  ({p / e:.2f}x eval; {scored} configurations scored)")
    print(f"plan --frontier {f * 1e3:7.0f} ms  ({f / e:.2f}x eval; {rows} frontier rows)")


if __name__ == "__main__":
    main()
