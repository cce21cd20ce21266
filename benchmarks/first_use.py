"""How long the first command takes after ``pip install .`` (the wheel ships its derivation), against a first use
that must derive the model (an empty cache and nothing shipped), in the same run.

Run by hand: ``python benchmarks/first_use.py [--runs N] [--venv DIR]``. It copies the package sources to a
temporary folder (a build writes ``build/`` beside them), makes a fresh virtual environment and runs
``pip install`` there as a user would (about 1.5 min: the build derives the model once), unless ``--venv`` names
one that already has symroof installed. Then, each with a new, empty ``SYMROOF_CACHE``, it times the whole
process ``symroof eval llama-3-70b tpu-v5e``:

- *installed*: the installed copy's first use, which reads the shipped derivation;
- *deriving*: the checkout's first use (``python -m symroof.cli`` from this repository, as an editable install or
  a wheel whose derivation failed at build time would run): sympy derives every formula and writes the cache;
- *cache found*: the checkout's second run, reading the cache the first wrote.

A report, not a test. Target (issue 31): the first command after ``pip install .`` answers within 2 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["eval", "llama-3-70b", "tpu-v5e"]
TARGET_S = 2.0


def wall(cmd: list[str], env: dict, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env, cwd=cwd)
    return time.perf_counter() - start


def install(scratch: Path) -> Path:
    """A fresh virtual environment with symroof installed from a copy of this checkout's sources."""
    source = scratch / "source"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for folder in ("symroof", "templates"):
        shutil.copytree(ROOT / folder, source / folder, ignore=skip)
    for name in ("pyproject.toml", "setup.py", "README.md", "MANIFEST.in"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    venv = scratch / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    started = time.perf_counter()
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(source)], check=True)
    print(f"pip install . in a fresh virtual environment: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return venv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--venv", type=Path, help="a virtual environment with symroof installed (skips the install)")
    args = parser.parse_args()
    times: dict[str, list[float]] = {"installed": [], "deriving": [], "cache found": []}
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        venv = args.venv or install(scratch)
        installed = [str(venv / "bin" / "symroof"), *ARGS]
        checkout = [sys.executable, "-m", "symroof.cli", *ARGS]
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as cache:
                env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "SYMROOF_CACHE": cache}
                times["installed"].append(wall(installed, env, scratch))
                if os.listdir(cache):
                    raise SystemExit("the installed copy wrote the user cache: it did not read a shipped derivation")
                times["deriving"].append(wall(checkout, {**env, "PYTHONPATH": str(ROOT)}, ROOT))
                times["cache found"].append(wall(checkout, {**env, "PYTHONPATH": str(ROOT)}, ROOT))
    rows = {
        "first use after pip install . (shipped derivation)": times["installed"],
        "first use, nothing shipped (derives into an empty cache)": times["deriving"],
        "later runs (user cache found)": times["cache found"],
    }
    print("| run | median | min | max |\n|---|---|---|---|")
    for name, xs in rows.items():
        print(f"| {name} | {statistics.median(xs):.2f} s | {min(xs):.2f} s | {max(xs):.2f} s |")
    shipped, deriving = statistics.median(times["installed"]), statistics.median(times["deriving"])
    print(
        f"\nderiving / shipped: {deriving / shipped:.0f}x; shipped / cache found: "
        f"{shipped / statistics.median(times['cache found']):.2f}x; target: first use after pip install within "
        f"{TARGET_S:.0f} s: {'met' if max(times['installed']) < TARGET_S else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
