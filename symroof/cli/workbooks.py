"""export: live-formula Excel workbooks."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import InputError
from ..core.files import check_target
from ..core.progress import Progress
from ..workbook import export as workbook_export
from .common import parse_sets, refuse_empty, warn


def cmd_export(args: argparse.Namespace) -> str:
    refuse_empty({"--template": args.template})
    if args.all:
        if args.model or args.hardware or args.set or args.template is not None or args.keep_inputs or \
                args.calibration or args.compare:
            raise InputError("--all exports the featured pairs with their defaults; give no MODEL, HARDWARE, "
                             "--set, --template or --keep-inputs with it")
        paths = workbook_export.export_all(args.output or "sheets", progress=progress(args))
        return "\n".join(str(p) for p in paths)
    if args.output is not None:  # refused before any work
        check_target(args.output)
    if args.compare:
        if not (args.model and args.hardware):
            raise InputError("--compare needs MODEL CHIP,CHIP,..., like: symroof export --compare llama-3-70b "
                             "h100,h200,b200")
        if args.keep_inputs:
            raise InputError("--keep-inputs is for one chip's workbook; a comparison is written afresh (--force)")
        chips = [c.strip() for c in args.hardware.split(",") if c.strip()]
        if args.template in ("engineering", "finance"):  # one chip's layouts; the comparison has its own
            raise InputError(f"--template {args.template} is one chip's workbook; --compare writes the comparison "
                             "template's own layout: drop --template (or give a comparison template's TOML)")
        template = args.template or "comparison"
        return str(workbook_export.export_compared(args.model, chips, parse_sets(args.set), args.output, args.force,
                                                   template, args.calibration))
    if not (args.model and args.hardware):
        raise InputError("give MODEL HARDWARE, or --all")
    args.template = args.template or "engineering"
    if args.template == "comparison":
        raise InputError("the comparison template compares chips: symroof export --compare MODEL CHIP,CHIP,...")
    path = workbook_export.export(args.model, args.hardware, args.template, parse_sets(args.set), args.output,
                                  force=args.force, keep_inputs=args.keep_inputs, warn=warn,
                                  calibration=args.calibration)
    return str(path)


def progress(args: argparse.Namespace):
    """A progress line on a terminal after a second; silent when not on one, or with --quiet."""
    return Progress(sys.stderr, not args.quiet)
