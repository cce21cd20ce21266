"""The audit of a validation dataset (issue 30): per source, what is predicted, what is not and why, what repeats.

:func:`audit` counts, per source (a repository file or a page, without its commit): the rows, the rows each
reason leaves unpredicted (an engine without a profile, a metric per node, a value a chip does not publish),
the rows kept out of every fit (``excluded_from_fit``), the rows whose configuration another row repeats, and
the units its numbers are stated in (mean, median or p99; per GPU or for the whole slice). :func:`contradictions`
lists configurations whose rows disagree by more than a factor. ``symroof/data/AUDIT.md`` is written from
:func:`markdown` and the findings read by hand.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .dataset import Point

#: Rows of one configuration and metric that disagree by more than this are listed (the issue's 1.5x).
CONTRADICTION = 1.5


@dataclass
class Source:
    """One source's counts."""

    name: str
    rows: int = 0
    predicted: int = 0
    not_predicted: Counter = field(default_factory=Counter)
    excluded: int = 0
    repeated: int = 0  # rows whose configuration and metric another row (of any source) also measures
    units: Counter = field(default_factory=Counter)


def _reason(p: Point) -> str:
    text = p.skipped or ""
    if " is unavailable: " in text:  # one reason, whatever the quantity: a value the chip's maker does not publish
        return "a value the chip's maker does not publish: " + text.split(" is unavailable: ", 1)[1]
    return text


def audit(points: list[Point]) -> dict[str, Source]:
    """Per source, its counts; ``points`` as :func:`symroof.validation.run` left them (or as loaded)."""
    repeats = Counter((p.config, p.row["metric"]) for p in points)
    out: dict[str, Source] = {}
    for p in points:
        s = out.setdefault(p.group, Source(p.group))
        s.rows += 1
        if p.skipped is not None:
            s.not_predicted[_reason(p)] += 1
        else:
            s.predicted += 1
        s.excluded += bool(p.excluded)
        s.repeated += repeats[(p.config, p.row["metric"])] > 1
        s.units[p.row["unit"]] += 1
    return out


def contradictions(points: list[Point], factor: float = CONTRADICTION) -> list[tuple[float, list[Point]]]:
    """Configurations (and metric) whose rows differ by more than ``factor``: (largest over smallest, the rows)."""
    same: dict[tuple, list[Point]] = defaultdict(list)
    for p in points:
        same[(p.config, p.row["metric"])].append(p)
    out = []
    for rows in same.values():
        values = [p.measured for p in rows]
        if len(rows) > 1 and max(values) > factor * min(values):
            out.append((max(values) / min(values), rows))
    return sorted(out, key=lambda x: -x[0])


def markdown(points: list[Point]) -> str:
    """The audit's tables, as Markdown."""
    sources = audit(points)
    lines = [
        "| source | rows | predicted | not predicted (why) | excluded from fit | repeated config | units |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in sorted(sources.values(), key=lambda s: -s.rows):
        why = "; ".join(f"{n} {r}" for r, n in s.not_predicted.most_common()) or "-"
        units = "; ".join(f"{n} {u}" for u, n in s.units.most_common())
        lines.append(f"| {s.name} | {s.rows} | {s.predicted} | {why} | {s.excluded} | {s.repeated} | {units} |")
    total = sum(s.rows for s in sources.values())
    done = sum(s.predicted for s in sources.values())
    lines += [
        "",
        f"{total} rows, {done} predicted, {total - done} not predicted.",
        "",
        f"Configurations whose rows disagree by more than {CONTRADICTION}x (largest / smallest; lines):",
        "",
    ]
    for ratio, rows in contradictions(points):
        lines.append(
            f"- {ratio:.2f}x: "
            + ", ".join(f"line {p.line} {p.measured:g} ({p.row['engine'][:40]})" for p in rows)
            + f" -- {rows[0].label}"
        )
    return "\n".join(lines) + "\n"
