"""The ``symroof`` command line.

Every error a user can cause prints one line naming what is wrong and exits
with status 2; nothing prints a traceback. One module per group of commands;
each imports what it needs (numpy, pint, sympy, pandas) only when it runs, so
``symroof --help`` starts at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..core.errors import SymroofError
from ..core.version import __version__
from . import estimates, evaluation, models, plans, sweeps, thresholds, workbooks

EPILOG = """examples:
  symroof eval llama-3-70b tpu-v5e
  symroof eval llama-3-70b tpu-v5e --set batch_size=32 --set weight_dtype=int8 --set "hbm_bandwidth=820 GB/s"
  symroof explain step_time
  symroof solve critical_batch_size tpu-v5e
  symroof sensitivity cost_per_million_tokens llama-3-70b tpu-v5e
  symroof export llama-3-70b tpu-v5e --template finance --set chip_price=1.0
  symroof sweep llama-3-70b tpu-v5e --vary batch_size=1:512 --vary context_length=2048,8192,32768
  symroof plot frontier -o frontier.png
  symroof list hardware
  symroof import-model config.json -o my-model.toml && symroof eval my-model.toml h100
  symroof eval llama-3-70b h100 --set n_chips=8 --estimate
  symroof measure out/ && symroof calibrate out/ --hardware h100 -o h100.toml
  symroof plan llama-3-70b h200 --rate 2000/s --input 3000 --output 500 --ttft-p99 2s --tpot 33ms --set n_chips=8
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symroof", description="Symbolic roofline models of LLM serving: dense and mixture-of-experts models on "
                                    "TPUs and GPUs.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"symroof {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (evaluation, thresholds, workbooks, sweeps, models, estimates, plans):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(plans.expand_percentile(sys.argv[1:] if argv is None else argv))
    try:
        out = args.func(args)
    except SymroofError as exc:
        print(f"symroof: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symroof: interrupted; files being written were left as they were", file=sys.stderr)
        return 130
    except OSError as exc:  # a file that cannot be read or written
        where = f" {exc.filename}" if exc.filename else ""
        print(f"symroof: error: cannot write or read{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        if out is not None:
            print(out)
    except BrokenPipeError:  # e.g. piped into head
        sys.stderr.close()
    return 0
