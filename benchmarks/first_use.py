"""How long the first use takes with an empty derivation cache, against a run that finds the cache.

Run by hand: ``python benchmarks/first_use.py [--runs N]``. Each first use runs
``symroof eval llama-3-70b tpu-v5e`` as a whole process with a new, empty
``SYMROOF_CACHE`` (sympy derives every formula and writes the cache); each
warm run reads it back. A report, not a test. Target (issue 19): the first use
within 25 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CMD = [sys.executable, "-m", "symroof.cli", "eval", "llama-3-70b", "tpu-v5e"]


def wall(env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(CMD, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    first, warm = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            env = {**os.environ, "SYMROOF_CACHE": folder}
            first.append(wall(env))
            warm.append(wall(env))
    print("| run | median | min | max |\n|---|---|---|---|")
    for name, xs in (("first use (empty cache)", first), ("later runs (cache found)", warm)):
        print(f"| {name} | {statistics.median(xs):.2f} s | {min(xs):.2f} s | {max(xs):.2f} s |")
    print(f"\nfirst use / later run: {statistics.median(first) / statistics.median(warm):.0f}x; target: first use "
          "within 25 s")


if __name__ == "__main__":
    main()
