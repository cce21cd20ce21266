"""How long one engineering workbook takes to export (run by hand: python benchmarks/export_speed.py).

Reports the first export in a fresh process (which derives the elasticities
with sympy) and the median of later ones. A report, not a test.
"""

import statistics
import tempfile
import time
from pathlib import Path

from symroof.workbook.export import export


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "w.xlsx"
        start = time.perf_counter()
        export("llama-3-70b", "tpu-v5e", out=out, force=True)
        first = time.perf_counter() - start
        times = []
        for _ in range(5):
            start = time.perf_counter()
            export("llama-3-70b", "tpu-v5e", out=out, force=True)
            times.append(time.perf_counter() - start)
    print(f"engineering workbook, LLaMA 3-70B on TPU v5e: first export {first:.2f} s, "
          f"then median {statistics.median(times):.2f} s")


if __name__ == "__main__":
    main()
