"""The ``symroof`` command line.

Every error a user can cause prints one line naming what is wrong and exits
with status 2; nothing prints a traceback. :mod:`.arguments` declares every
command's options; each command's handler lives in the module of its group
(:mod:`.evaluation`, :mod:`.thresholds`, :mod:`.workbooks`, :mod:`.sweeps`,
:mod:`.models`, :mod:`.estimates`, :mod:`.plans`) and is imported when the
command runs, since handlers reach numpy, pint, pandas or sympy and ``symroof
--help`` should start at once.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from ..core.errors import SymroofError
from .arguments import build_parser, expand_percentile, keep_negative_values

__all__ = ["build_parser", "main"]


def _handler(name: str):
    """``"module:function"`` of this package, imported now (see the module docstring)."""
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), function)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(keep_negative_values(expand_percentile(sys.argv[1:] if argv is None else argv), parser))
    try:
        out = _handler(args.func)(args)
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
