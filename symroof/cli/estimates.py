"""measure, calibrate and validate: from a GPU's microbenchmarks to a calibrated estimate, and its error."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import InputError
from ..core.files import check_target, write_text_atomically
from ..core.progress import Progress
from ..core.units import Q_
from ..core.version import __version__
from ..derive import table
from ..fit import check, fit, to_toml
from ..measure import cmd_measure
from ..validation import render, run
from .common import refuse_existing, warn


def _check_output(output: str | None, force: bool) -> None:
    """Refuse, before any fitting, an output that is not ``.toml`` or exists without ``--force``."""
    if output is None:
        return
    if Path(output).suffix.lower() != ".toml":
        raise InputError(f"-o {output}: a calibration file is TOML; name it .toml")
    check_target(output)
    refuse_existing(output, force)


def cmd_calibrate(args: argparse.Namespace) -> str:
    _check_output(args.output, args.force)
    cal = fit(args.folder, args.hardware, args.attention_kernel)
    lines = [f"calibration of {cal.chip} from {cal.data} (attention kernel {cal.attention_kernel})"]
    for key, value in cal.values.items():
        s = table().get(key)
        lines.append(f"  {key:<26} {value:10.4g} {s.unit_short:<4}  {cal.sources[key]}")
    lines.append("residual error per kernel family (measured / predicted):")
    for name, f in cal.families.items():
        lines.append(f"  {name:<10} {f.rows:3d} rows  geometric mean {f.geomean_error:6.1%}  largest "
                     f"{f.max_error:6.1%}")
        if args.rows:
            for label, m, p in zip(f.labels, f.measured, f.predicted, strict=True):
                us = Q_([m, p], "s").to("us").magnitude
                lines.append(f"      {label:<18} measured {us[0]:10.1f} us  predicted {us[1]:10.1f} us  "
                             f"{m / p:6.3f}x")
    check(cal)  # refuses (writing nothing) a fit that did not converge or misses by more than 25%
    if args.output:
        write_text_atomically(to_toml(cal, f"symroof {__version__} calibrate"), Path(args.output))
        lines.append(f"written to {args.output}")
    return "\n".join(lines)


def cmd_validate(args: argparse.Namespace) -> str:
    v = run(args.data, Progress(sys.stderr, not args.quiet), fit=args.fit, replay=args.replay)
    warn(v.warnings())
    return render(v, args.format, show_rows=not args.summary)


__all__ = ["cmd_calibrate", "cmd_measure", "cmd_validate"]
