"""Writing workbooks: atomically, and never over a planner's work without being told.

Before replacing a workbook, symroof compares it with what it wrote (the
digests and input values in its metadata sheet): edited inputs, inputs that
hold a planner's values carried over by an earlier ``--keep-inputs``, and any
other change (a sheet added, a note typed, a formula overwritten) each refuse
the export with one sentence saying what differs. ``--keep-inputs`` carries
edited inputs over (and keeps protecting them); ``--force`` overwrites.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from .. import catalog
from ..core.errors import InputError, SymroofError
from ..core.files import atomic_write, write_text_atomically
from ..derive import table
from ..engine_settings import engine_of
from ..evaluation import Evaluation, load_calibration, parse_overrides
from . import metadata
from . import template as templates
from .comparison import export_comparison
from .writer import write

#: The catalog's featured pairs, exported by ``symroof export --all``.
FEATURED = [
    ("llama-3-70b", "tpu-v5e"), ("llama-3-70b", "tpu-v5p"), ("llama-3-70b", "h100"), ("llama-3-70b", "h200"),
    ("llama-3-8b", "tpu-v5e"), ("llama-3-405b", "tpu-v5e"),
    # mixture of experts (issue 11)
    ("deepseek-v3", "h200"), ("deepseek-v3", "b200"), ("gpt-oss-120b", "h100"), ("qwen3-235b-a22b", "tpu-v5p"),
]
#: The featured comparison (issue 13): one model on the priced GPUs, 8-chip replicas.
COMPARED = ("llama-3-70b", ("h200", "h100", "b200"), {"n_chips": 8})
EDITABLE = ("input", "rule", "estimate_input", "estimate_rule", "unpublished", "compare_input")


class WorkbookEdited(SymroofError):
    """The workbook to be replaced holds a planner's edits."""


def _same_number(a: float, b: float) -> bool:
    """Equal as a spreadsheet stores them: XlsxWriter writes 16 significant digits, not Python's 17."""
    return a == b or float(f"{a:.16g}") == float(f"{b:.16g}")


def default_path(model: str, hardware: str, template: str) -> Path:
    return Path(f"{Path(model).stem}_{Path(hardware).stem}_{Path(template).stem}.xlsx")


@dataclass
class Differences:
    """How an existing symroof workbook differs from what symroof wrote."""

    edited: dict[str, Any] = field(default_factory=dict)  # input name -> value now in its cell
    kept: dict[str, Any] = field(default_factory=dict)  # inputs holding a planner's values carried over before
    other: list[str] = field(default_factory=list)  # everything else, in words
    edited_est: dict[str, Any] = field(default_factory=dict)  # estimate factors (column D), likewise
    kept_est: dict[str, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> dict[str, Any]:
        return {**self.kept, **self.edited}

    @property
    def estimate_inputs(self) -> dict[str, Any]:
        return {**self.kept_est, **self.edited_est}


def differences(path: Path) -> Differences:
    """What a planner changed in the workbook at ``path`` since symroof wrote it."""
    try:
        wb = openpyxl.load_workbook(path)  # defusedxml guards the XML when installed
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, InvalidFileException) as exc:
        raise WorkbookEdited(f"{path}: exists and is not a readable workbook ({exc}); use --force to replace it") \
            from None
    try:
        recorded = metadata.read(wb)
    except SymroofError:
        raise WorkbookEdited(f"{path}: exists and is not a symroof workbook; use --force to replace it") from None
    out = Differences()
    editable: set[tuple[str, str]] = set()
    for c in recorded.cells:
        if c.kind not in EDITABLE:
            continue
        editable.add((c.sheet, c.cell))
        if c.sheet not in wb.sheetnames:
            continue
        now = wb[c.sheet][c.cell].value
        edited, kept = (out.edited_est, out.kept_est) if c.kind.startswith("estimate") else (out.edited, out.kept)
        if c.kind in ("input", "estimate_input", "unpublished", "compare_input"):  # unpublished: generated blank
            if now != c.generated and not (isinstance(now, int | float) and isinstance(c.generated, int | float)
                                           and _same_number(float(now), float(c.generated))):
                # a comparison's chip column holds its own inputs: named with the column (h100:estimate)
                edited[c.name if c.kind != "compare_input" else f"{c.name} ({c.detail})"] = now
            elif c.kept:
                kept[c.name] = now
        elif not (isinstance(now, str) and now.startswith("=")):
            edited[c.name] = now  # a default rule typed over with a number
    sheets = [s for s in wb.sheetnames if s != metadata.SHEET]
    added = [s for s in sheets if s not in recorded.digests]
    removed = [s for s in recorded.digests if s not in sheets]
    out.other += [f"sheet {s!r} was added" for s in added] + [f"sheet {s!r} was removed" for s in removed]
    for sheet, rows in recorded.digests.items():
        if sheet not in sheets:
            continue
        now = _digests(wb[sheet], {cell for s, cell in editable if s == sheet})
        changed = sorted(r for r in set(rows) | set(now) if rows.get(r, "") != now.get(r, ""))
        if changed:
            shown = ", ".join(str(r + 1) for r in changed[:6]) + (", ..." if len(changed) > 6 else "")
            out.other.append(f"sheet {sheet!r} row{'s' if len(changed) > 1 else ''} {shown} changed")
    return out


def _digests(ws, skip: set[str]) -> dict[int, str]:
    rows: dict[int, list] = {}
    for row in ws.iter_rows():
        for c in row:
            if c.value is None or c.coordinate in skip:
                continue
            rows.setdefault(c.row - 1, []).append((c.column - 1, c.value))
    return {r: metadata.row_digest(cells) for r, cells in rows.items()}


def _refusal(path: Path, diff: Differences, keep_inputs: bool) -> str | None:
    """The sentence refusing to replace the workbook, or None when it may be replaced."""
    if diff.other:
        what = "; ".join(diff.other[:4]) + ("; ..." if len(diff.other) > 4 else "")
        lost = "--keep-inputs carries input cells only, so these would be lost" if keep_inputs else \
            "a new export would lose them"
        return f"{path}: differs from what symroof wrote ({what}); {lost}: use --force to overwrite"
    if keep_inputs:
        return None
    edited = sorted(diff.edited) + [f"{n} (estimate)" for n in sorted(diff.edited_est)]
    kept = sorted(diff.kept) + [f"{n} (estimate)" for n in sorted(diff.kept_est)]
    if edited:
        return (f"{path}: input cells were edited ({', '.join(edited)}); use --keep-inputs to carry "
                "them into the new workbook or --force to overwrite them")
    if kept:
        return (f"{path}: input cells hold a planner's values carried over earlier ({', '.join(kept)}); "
                "use --keep-inputs to keep them or --force to overwrite them")
    return None


def export(model: str, hardware: str, template: str = "engineering", overrides: Mapping[str, Any] | None = None,
           out: str | Path | None = None, force: bool = False, keep_inputs: bool = False,
           warn: Callable[[list[str]], None] | None = None, calibration: str | None = None) -> Path:
    """Write the workbook of ``model`` on ``hardware`` and return its path.

    Refuses to replace a workbook that differs from what symroof wrote unless
    ``force`` (overwrite) or, when only input cells differ, ``keep_inputs``
    (carry the edited values over, and keep protecting them). ``warn`` receives the operating point's
    warnings (it does not fit, the plan misses its target, a pin contradicts its formula). The estimate
    column uses the chip's shipped calibration (generic factors where none), or ``calibration`` (a file).
    """
    path = Path(out) if out is not None else default_path(model, hardware, template)
    if path.suffix.lower() != ".xlsx":
        raise InputError(f"{path}: a workbook is written as .xlsx")
    tpl = templates.load(template)
    if tpl.kind == "comparison":
        raise InputError(f"the {tpl.name} template compares chips: symroof export --compare MODEL CHIP,CHIP,...")
    m, h = catalog.load("model", model), catalog.load("hardware", hardware)
    cal = load_calibration(h, calibration)
    factors = {k for k in (overrides or {}) if table().get(k).neutral is not None}
    raw = {k: v for k, v in (overrides or {}).items() if k not in factors}  # estimate factors: column D only
    raw_est = {k: v for k, v in (overrides or {}).items() if k in factors}
    kept: set[str] = set()
    kept_est: set[str] = set()
    if path.exists() and not force:
        diff = differences(path)
        refusal = _refusal(path, diff, keep_inputs)
        if refusal:
            raise WorkbookEdited(refusal)
        if keep_inputs:
            for name, value in diff.inputs.items():
                if name not in raw:
                    raw[name] = value
                    kept.add(name)
            for name, value in diff.estimate_inputs.items():
                if name not in raw_est:
                    raw_est[name] = value
                    kept_est.add(name)
    where = "--set " if not (kept or kept_est) else f"{path}: "
    parsed = parse_overrides(raw, where)
    parsed_est = {**parsed, **parse_overrides(raw_est, where)}
    sources = {}
    for name in tpl.hold:  # in order: a count held after the slice is the slice's; the larger of the two modes'
        if name in parsed:  # defaults, so that both columns keep up (the prefill fleet the estimate needs)
            continue
        base = Evaluation(m, h, parsed)
        if name in base.unavailable:
            continue
        est_base = Evaluation(m, h, parsed_est, mode="estimate", calibration=cal, engine=engine_of(h))
        value = base.base[name]
        if name != "n_chips" and name not in est_base.unavailable:
            value = max(value, est_base.base[name])
        parsed[name] = parsed_est[name] = value
        sources[name] = (f"held at export: its default at the scenario's defaults (symroof explain {name} gives "
                         "the rule)" + ("" if name == "n_chips" else ", the larger of the bound's and the estimate's"))
    ev = Evaluation(m, h, parsed, rules=tpl.rules, sources=sources)
    # the estimate's engine is the one plans price with: the finance page's fleets are symroof plan's
    est = Evaluation(m, h, parsed_est, mode="estimate", calibration=cal, rules=tpl.rules, sources=sources,
                     engine=engine_of(h))
    for name in tpl.requires:
        if name in ev.unavailable:
            raise InputError(f"{h.id} has no {name} in the catalog; the {tpl.name} workbook needs one "
                             f"(--set {name}=...)")
    atomic_write(path, lambda tmp: write(ev, est, tpl, tmp, frozenset(kept), {**raw, **raw_est},
                                         frozenset(kept_est)))
    if warn is not None:  # after writing: an export that fails says only why
        warn(ev.warnings() + [w for w in est.warnings() if w not in ev.warnings()])
    return path


def export_compared(model: str, chips: list[str], overrides: Mapping[str, Any] | None = None,
                    out: str | Path | None = None, force: bool = False, template: str = "comparison",
                    calibration: str | None = None) -> Path:
    """The comparison workbook (:func:`export_comparison`), replacing one that symroof wrote and nobody changed,
    as :func:`export` does; one that differs (an input edited, a sheet added, a note typed) only with ``force``."""
    path = Path(out) if out is not None else Path(f"{Path(model).stem}_comparison.xlsx")
    if path.suffix.lower() == ".xlsx" and path.exists() and not force:
        diff = differences(path)
        changed = [*(f"input {n} was edited" for n in sorted(diff.edited)),
                   *(f"input {n} (estimate) was edited" for n in sorted(diff.edited_est)), *diff.other]
        if changed:
            what = "; ".join(changed[:4]) + ("; ..." if len(changed) > 4 else "")
            raise WorkbookEdited(f"{path}: differs from what symroof wrote ({what}); a comparison is written "
                                 "afresh: use --force to overwrite it")
        force = True  # symroof's own, unchanged: replaced like a one-chip workbook
    return export_comparison(model, chips, overrides, path, force, template, calibration)


def export_all(folder: str | Path = "sheets", progress=None) -> list[Path]:
    """The featured pairs: an engineering workbook each, and a finance one where the chip has a price."""
    folder = Path(folder)
    jobs = []
    for model, hardware in FEATURED:
        jobs.append((model, hardware, "engineering"))
        if "chip_price" in catalog.load("hardware", hardware).values:
            jobs.append((model, hardware, "finance"))
    paths = []
    for i, (model, hardware, tpl) in enumerate(jobs):
        paths.append(export(model, hardware, tpl, out=folder / default_path(model, hardware, tpl), force=True))
        if progress is not None:
            progress(i + 1, len(jobs) + 1)
    model, chips, settings = COMPARED
    paths.append(export_comparison(model, list(chips), settings, out=folder / f"{model}_comparison.xlsx",
                                   force=True))
    if progress is not None:
        progress(len(jobs) + 1, len(jobs) + 1)
    _readme(folder, jobs)
    return paths


def _readme(folder: Path, jobs) -> None:
    """``sheets/README.md``: what each generated workbook is."""
    lines = ["# Generated workbooks", "",
             "Written by `symroof export --all`; do not edit here (a test fails when they are stale).",
             "Each is live: change the blue input cells and every sheet recomputes in Excel or LibreOffice;",
             "each formula cell also stores its value, so previews and pandas show numbers.",
             "Scenario: the catalog's defaults (bf16 weights, KV and FLOPs, batch 32, 8192-token context,",
             "the smallest slice that holds parameters and KV). The finance page prices the batch that",
             "meets the latency target and fits in HBM.", "",
             "| file | model | chip | template |", "|---|---|---|---|"]
    for model, hardware, tpl in jobs:
        m, h = catalog.load("model", model), catalog.load("hardware", hardware)
        lines.append(f"| `{default_path(model, hardware, tpl)}` | {m.name} | {h.name} | {tpl} |")
    lines += ["", "Templates (`templates/*.toml`):", "",
              f"- **engineering**: {templates.load('engineering').description}",
              f"- **finance**: {templates.load('finance').description}",
              f"- **comparison** (`{COMPARED[0]}_comparison.xlsx`: {', '.join(COMPARED[1])}, "
              f"{COMPARED[2]['n_chips']}-chip replicas): {templates.load('comparison').description}", ""]
    write_text_atomically("\n".join(lines), folder / "README.md")
