"""export: live-formula Excel workbooks."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import InputError
from .common import add_set, parse_sets, warn


def cmd_export(args: argparse.Namespace) -> str:
    from ..workbook import export as workbook_export

    if args.all:
        if args.model or args.hardware or args.set or args.template != "engineering" or args.keep_inputs or \
                args.calibration or args.compare:
            raise InputError("--all exports the featured pairs with their defaults; give no MODEL, HARDWARE, "
                             "--set, --template or --keep-inputs with it")
        paths = workbook_export.export_all(args.output or "sheets", progress=progress(args))
        return "\n".join(str(p) for p in paths)
    if args.compare:
        from ..workbook.comparison import export_comparison

        if not (args.model and args.hardware):
            raise InputError("--compare needs MODEL CHIP,CHIP,..., like: symroof export --compare llama-3-70b "
                             "h100,h200,b200")
        if args.keep_inputs:
            raise InputError("--keep-inputs is for one chip's workbook; a comparison is written afresh (--force)")
        chips = [c.strip() for c in args.hardware.split(",") if c.strip()]
        template = "comparison" if args.template == "engineering" else args.template
        return str(export_comparison(args.model, chips, parse_sets(args.set), args.output, args.force, template,
                                     args.calibration))
    if not (args.model and args.hardware):
        raise InputError("give MODEL HARDWARE, or --all")
    if args.template == "comparison":
        raise InputError("the comparison template compares chips: symroof export --compare MODEL CHIP,CHIP,...")
    path = workbook_export.export(args.model, args.hardware, args.template, parse_sets(args.set), args.output,
                                  force=args.force, keep_inputs=args.keep_inputs, warn=warn,
                                  calibration=args.calibration)
    return str(path)


def progress(args: argparse.Namespace):
    """A progress line on a terminal after a second; silent when not on one, or with --quiet."""
    from ..core.progress import Progress

    return Progress(sys.stderr, not args.quiet)


def register(sub) -> None:
    """Add this module's commands to the parser."""
    p = sub.add_parser("export", help="write a live-formula Excel workbook",
                       description="Write a workbook whose cells are live formulas over one defined name per "
                                   "quantity; it recomputes in Excel or LibreOffice exactly as symroof does.")
    p.add_argument("model", metavar="MODEL", nargs="?")
    p.add_argument("hardware", metavar="HARDWARE", nargs="?")
    p.add_argument("--template", default="engineering", help="engineering (default), finance, or a TOML path")
    add_set(p)
    p.add_argument("-o", "--output", metavar="PATH",
                   help="the file to write (default MODEL_HARDWARE_TEMPLATE.xlsx); with --all, the folder")
    p.add_argument("--all", action="store_true", help="export the catalog's featured pairs into sheets/")
    p.add_argument("--force", action="store_true",
                   help="overwrite a workbook that differs from what symroof wrote (edited inputs, added sheets or "
                        "notes, overwritten formulas)")
    p.add_argument("--keep-inputs", action="store_true",
                   help="carry the edited input cells of the existing workbook into the new one (and keep "
                        "protecting them on later exports)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--compare", action="store_true",
                   help="MODEL CHIP,CHIP,...: the chips side by side at the same traffic and service level (the "
                        "comparison template; the plan's --set options apply to every chip)")
    p.set_defaults(func=cmd_export)
