"""How long the command line takes to start, as ratios against importing numpy (and pint) in the same run.

Run by hand: ``python benchmarks/startup.py [--runs N]``. Each command runs as a
whole process, alternating with its baseline so that drift in the machine's
speed cancels in the ratio; medians are reported. A report, not a test.

Targets (issue 9): ``symroof --help`` within 1.5x of ``python -c "import numpy"``;
``symroof eval`` within 1.6x of ``python -c "import numpy, pint"``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

NUMPY = [sys.executable, "-c", "import numpy"]
NUMPY_PINT = [sys.executable, "-c", "import numpy, pint"]
CLI = [sys.executable, "-m", "symroof.cli"]
CASES = [
    ("symroof --help", CLI + ["--help"], "import numpy", NUMPY, 1.5),
    ("symroof eval llama-3-70b tpu-v5e", CLI + ["eval", "llama-3-70b", "tpu-v5e"], "import numpy, pint", NUMPY_PINT,
     1.6),
    ("symroof explain step_time", CLI + ["explain", "step_time"], "import numpy, pint", NUMPY_PINT, 1.6),
    ("symroof solve critical_batch_size llama-3-70b tpu-v5e", CLI + ["solve", "critical_batch_size", "llama-3-70b",
                                                                     "tpu-v5e"], "import numpy, pint", NUMPY_PINT, 1.6),
]


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    print("| command | median | baseline | baseline median | ratio (median of pairs) | target |")
    print("|---|---|---|---|---|---|")
    for name, cmd, base_name, base, target in CASES:
        wall(cmd), wall(base)  # warm the file cache
        pairs = [(wall(cmd), wall(base)) for _ in range(args.runs)]
        a = statistics.median(p[0] for p in pairs)
        b = statistics.median(p[1] for p in pairs)
        ratio = statistics.median(x / y for x, y in pairs)
        print(f"| `{name}` | {a * 1000:.0f} ms | `{base_name}` | {b * 1000:.0f} ms | {ratio:.2f}x | {target}x |")


if __name__ == "__main__":
    main()
