"""Measure the roofline ingredients of your own GPU, as CSV files that ``symroof calibrate`` fits.

Run ``python -m symroof.measure OUT_DIR`` on the machine to be modelled. It writes, into OUT_DIR:

- ``ceilings.csv`` ``what,bytes,flops,seconds,rate,unit``: copy and read bandwidth over 2 GiB of bf16, and the dense
  matmul rate of an 8192-cube matmul in bf16 (and fp8 where the device has fp8 matmuls);
- ``matmul.csv`` ``dtype,B,D,F,seconds,flops,weight_bytes,act_bytes``: decode-shaped matmuls ``[B,D] x [D,F]``
  (D = 8192; F = 28672, LLaMA-3-70B's MLP width, and 3584, an eighth of it), B = 1, 2, 4, ... 8192;
- ``attention.csv`` ``kernel,B,S,n_heads,n_kv_heads,d_head,seconds,kv_bytes``: decode attention, one query token per
  sequence against S cached tokens, grouped-query (64 query heads, 8 KV heads, d_head 128), as two batched matmuls
  (``bmm``) and as PyTorch's fused kernel (``sdpa``);
- ``prefill.csv`` ``n_layers,T,seconds,matmul_flops,attn_flops,param_bytes``: a prefill of T tokens through four
  LLaMA-3-70B-shaped decoder layers;
- ``env.txt``: one ``key value`` line each for the device, the versions, whether fp8 was measured and whether this
  was a ``--smoke`` run.

The columns and the way of timing are those of the project's shared measurements (``measure_roofline.py``): each
time is the median of 30 timed calls after 5 warm-up calls, timed with CUDA events; attention is replayed from a CUDA
graph so that kernel-launch gaps do not count. ``--smoke`` runs tiny shapes on the CPU in a few seconds, to check the
logic, and says so in env.txt so that its numbers are never fitted as a real device's.

``shapes`` says what is measured, ``kernels`` times it with PyTorch (imported only when a run starts:
``import symroof.measure`` works without it), and this module runs the parts and writes the files.
"""

from __future__ import annotations

import argparse
import csv
import io
import platform
import sys
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

from ..core.errors import InputError, SymroofError
from ..core.files import write_text_atomically
from ..core.progress import Progress
from ..core.version import __version__
from .kernels import MEASURES, Run, Skip, Timer, fp8_support, import_torch
from .shapes import (
    COLUMNS,
    FULL,
    PARTS,
    PLANS,
    SMOKE,
    Row,
    attention_plan,
    ceilings_plan,
    matmul_plan,
    prefill_plan,
)

__all__ = ["COLUMNS", "FULL", "MEASURES", "PARTS", "PLANS", "SMOKE", "Run", "Skip", "attention_plan",
           "ceilings_plan", "main", "matmul_plan", "measure", "prefill_plan"]

ProgressCallback = Callable[[int, int], None]  # (rows done, rows in all), like symroof.core.progress.Progress


def environment(torch: Any, device: str, smoke: bool, fp8: tuple[bool, str], parts: Iterable[str]) -> list[str]:
    """``key value`` lines for env.txt: the shared files' keys first, then what calibrate must know of the run."""
    lines = [f"torch {torch.__version__}", f"python {platform.python_version()}"]
    if device == "cuda":
        p = torch.cuda.get_device_properties(0)
        lines += [f"device {p.name}", f"sms {p.multi_processor_count}", f"memory_bytes {p.total_memory}",
                  f"cuda {torch.version.cuda}", f"compute_capability {p.major}.{p.minor}"]
        if torch.backends.cudnn.is_available():
            lines.append(f"cudnn {torch.backends.cudnn.version()}")
    else:
        lines += [f"device cpu {platform.machine()}", f"threads {torch.get_num_threads()}"]
    lines += [f"smoke {'true' if smoke else 'false'}",
              f"fp8 {'yes' if fp8[0] else 'no'} ({fp8[1]})",
              f"parts {','.join(p for p in PARTS if p in parts)}",
              f"symroof {__version__}",
              f"date {datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}"]
    return lines


def csv_text(columns: Iterable[str], rows: Iterable[Row]) -> str:
    """CSV as the shared files have it (Python's csv dialect, floats written in full)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def check_request(out_dir: Path, smoke: bool, device: str, parts: set[str]) -> None:
    """One-line errors for what the user asked, before anything is measured or written."""
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise InputError(f"--only {','.join(unknown)}: not a part; choose from {','.join(PARTS)}")
    if not parts:
        raise InputError(f"--only names no part; choose from {','.join(PARTS)}")
    if device not in ("cuda", "cpu"):
        raise InputError(f"--device {device}: choose cuda or cpu")
    if device == "cpu" and not smoke:
        raise InputError("full-size shapes need a GPU (2 GiB copies, a 17 GB KV cache); on a CPU give --smoke")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder; give a folder for the CSV files")


def measure(out_dir: Path, *, smoke: bool, device: str, parts: set[str],
            progress: ProgressCallback | None = None) -> list[Path]:
    """Measure ``parts`` on ``device`` and write their CSV files and env.txt into ``out_dir``; return the paths.

    env.txt is written first, so that whatever a run leaves says what made it; each CSV is written whole
    (atomically) once its part is done, so an interrupted run never leaves a half-written file. Rows whose
    tensors do not fit in the GPU's memory are left out and listed in env.txt (``skipped``).
    Raises ``InputError`` for a bad request, ``OSError`` for a folder that cannot be written.
    """
    out_dir = Path(out_dir)
    check_request(out_dir, smoke, device, parts)
    torch = import_torch()
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: PyTorch sees no CUDA GPU here" + (
            "" if torch.version.cuda else f" (torch {torch.__version__} is a CPU-only build)"))
    shapes = SMOKE if smoke else FULL
    torch.manual_seed(0)
    fp8 = fp8_support(torch, device)
    run = Run(torch=torch, device=device, shapes=shapes, timer=Timer(torch, device, shapes), fp8=fp8[0], skipped=[])
    env = environment(torch, device, smoke, fp8, parts)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "env.txt"]
    write_text_atomically("\n".join(env) + "\n", written[0])

    plans = {part: PLANS[part](shapes, run.fp8) for part in PARTS if part in parts}
    total, done = sum(len(rows) for rows in plans.values()), 0
    for part, plan in plans.items():
        measured = []
        for row in MEASURES[part](run, plan):
            done += 1
            if progress is not None:
                progress(done, total)
            if row is not None:
                measured.append(row)
        run.release()
        if measured:
            path = out_dir / f"{part}.csv"
            write_text_atomically(csv_text(COLUMNS[part], measured), path)
            written.append(path)
    if run.skipped:
        write_text_atomically("\n".join([*env, "skipped " + "; ".join(run.skipped)]) + "\n", written[0])
    return written


# ----------------------------------------------------------------------------------------------------- command line
class _OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line (``symroof: error: ...``) and status 2, like every other error here."""

    def error(self, message: str) -> NoReturn:
        raise InputError(message)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m symroof.measure`` (and of a ``symroof measure`` command wired to ``cmd_measure``)."""
    parser.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="folder for the CSV files and env.txt")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny shapes in a few seconds, to check the set-up; marked in env.txt, never fitted")
    parser.add_argument("--device", metavar="cuda|cpu",
                        help="where to measure: cuda (the default) or cpu (only with --smoke, where it is the default)")
    parser.add_argument("--only", metavar="PARTS", default=",".join(PARTS),
                        help=f"comma-separated parts to measure (default all: {','.join(PARTS)})")


def cmd_measure(args: argparse.Namespace) -> str:
    """Run what ``args`` asks for; return the written paths, one a line. Raises ``SymroofError``/``OSError``."""
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    device = args.device or ("cpu" if args.smoke else "cuda")
    paths = measure(args.out_dir, smoke=args.smoke, device=device, parts=parts,
                    progress=Progress(sys.stderr, enabled=True))
    return "\n".join(str(p) for p in paths)


def main(argv: list[str] | None = None) -> int:
    """``python -m symroof.measure OUT_DIR [--smoke] [--device cuda|cpu] [--only PARTS]``; returns the exit status."""
    parser = _OneLineParser(prog="python -m symroof.measure",
                            description="Measure this GPU's roofline ingredients as CSV files for symroof calibrate.")
    add_arguments(parser)
    try:
        out = cmd_measure(parser.parse_args(argv))
    except SymroofError as exc:
        print(f"symroof: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symroof: interrupted; files already written are whole, the part in progress was not written",
              file=sys.stderr)
        return 130
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"symroof: error: cannot write{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(out)
    return 0

