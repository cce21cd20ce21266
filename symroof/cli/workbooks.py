"""export: live-formula Excel workbooks."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import InputError
from ..core.progress import Progress
from ..workbook import export as workbook_export
from ..workbook.comparison import export_comparison
from .common import parse_sets, warn


def cmd_export(args: argparse.Namespace) -> str:
    if args.all:
        if args.model or args.hardware or args.set or args.template != "engineering" or args.keep_inputs or \
                args.calibration or args.compare:
            raise InputError("--all exports the featured pairs with their defaults; give no MODEL, HARDWARE, "
                             "--set, --template or --keep-inputs with it")
        paths = workbook_export.export_all(args.output or "sheets", progress=progress(args))
        return "\n".join(str(p) for p in paths)
    if args.compare:
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
    return Progress(sys.stderr, not args.quiet)
