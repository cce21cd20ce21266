"""measure, calibrate and validate: from a GPU's microbenchmarks to a calibrated estimate, and its error."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_calibrate(args: argparse.Namespace) -> str:
    from ..calibration import check, fit, to_toml
    from ..core.files import write_text_atomically
    from ..core.version import __version__

    cal = fit(args.folder, args.hardware, args.attention_kernel)
    lines = [f"calibration of {cal.chip} from {cal.data} (attention kernel {cal.attention_kernel})"]
    from ..core.units import Q_
    from ..derive import table

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
    from ..validation import report

    return report(args.data, args.format, show_rows=not args.summary)


def register(sub) -> None:
    """Add this module's commands to the parser."""
    from ..measure import add_arguments, cmd_measure

    p = sub.add_parser("measure", help="time this GPU's roofline ingredients (needs PyTorch)",
                       description="Microbenchmark the GPU (HBM streaming, decode matmuls, decode attention, "
                                   "prefill) into the CSV files symroof calibrate fits. Needs PyTorch: "
                                   'pip install "symroof[measure]".')
    add_arguments(p)
    p.set_defaults(func=cmd_measure)

    p = sub.add_parser("calibrate", help="fit a chip's estimate factors from measured kernels",
                       description="Fit the estimate factors (streaming and FLOP efficiencies, kernel latencies, "
                                   "prefill MFU) of HARDWARE from a folder of microbenchmark CSVs (ceilings.csv, "
                                   "matmul.csv, attention.csv, optional prefill.csv), on symroof's declared "
                                   "formulas; print them with the residual error per kernel family.")
    p.add_argument("folder", metavar="DIR")
    p.add_argument("--hardware", metavar="CHIP", required=True, help="the catalog chip the data was measured on")
    p.add_argument("--attention-kernel", choices=["sdpa", "bmm"], default="sdpa",
                   help="which attention rows fit kv_stream_efficiency: sdpa (a fused kernel, as serving engines "
                        "use; the default) or bmm (two batched matmuls)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the calibration TOML here")
    p.add_argument("--rows", action="store_true", help="show every row's measured and predicted time")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("validate", help="compare predictions with published serving measurements",
                       description="Predict each published measurement of the validation dataset in bound and "
                                   "estimate mode; print measured/predicted per point and the geometric-mean error.")
    p.add_argument("--data", metavar="CSV", help="a dataset of the same columns (default: symroof's own)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.add_argument("--summary", action="store_true", help="only the error summary")
    p.set_defaults(func=cmd_validate)


def mode_options(parser: argparse.ArgumentParser) -> None:
    """``--estimate`` and ``--calibration FILE``, shared by every command that evaluates."""
    parser.add_argument("--estimate", action="store_true",
                        help="add the chip's calibrated efficiencies and overheads (its shipped calibration, or "
                             "generic factors, said so) to the roofline")
    parser.add_argument("--calibration", metavar="FILE",
                        help="a calibration from symroof calibrate (implies --estimate)")


def mode_of(args: argparse.Namespace) -> tuple[str, str | None]:
    """(mode, calibration file) the options ask for."""
    if getattr(args, "calibration", None):
        return "estimate", args.calibration
    return ("estimate" if getattr(args, "estimate", False) else "bound"), None

