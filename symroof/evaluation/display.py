"""Results in a notebook: an HTML table grouped like the command line's, and a pandas DataFrame.

One table for one evaluation or several side by side (bound and estimate); each
name carries its formula as a tooltip, each value its unit, written as the
command line writes it (:func:`symroof.evaluation.text.value_text`: TB/s,
dollars with separators, ``none`` for no cap).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from .text import value_text


def html_table(evaluations: Mapping[str, Any], names: Sequence[str] | None = None, title: str = "") -> str:
    """An HTML table of ``names`` (default: every quantity) with one value column per evaluation."""
    first = next(iter(evaluations.values()))
    shown = set(names) if names is not None else {n for ev in evaluations.values() for n in ev.names()}
    head = "".join(f"<th>{html.escape(mode)}</th>" for mode in evaluations)
    rows = []
    for group, group_title in first.table.groups:
        specs = [s for s in first.table if s.group == group and s.name in shown]
        if not specs:
            continue
        rows.append(f'<tr><th colspan="{len(evaluations) + 2}" style="text-align:left">'
                    f"{html.escape(group_title)}</th></tr>")
        for s in specs:
            formula = first.formula_text(s.name) or s.source
            cells = "".join(f'<td style="text-align:right">{html.escape(value_text(ev, s.name))}</td>'
                            for ev in evaluations.values())
            rows.append(f'<tr><td title="{html.escape(formula or "")}"><code>{html.escape(s.name)}</code></td>'
                        f"{cells}<td>{html.escape(s.description)}</td></tr>")
    caption = f"<caption>{html.escape(title)}</caption>" if title else ""
    return (f"<table>{caption}<thead><tr><th>quantity</th>{head}<th>description</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def frame(evaluations: Mapping[str, Any], names: Sequence[str] | None = None):
    """The one frame layout of every result: one row per quantity (index ``name``); columns ``symbol``, one
    value column per mode (``bound``, ``estimate``: the number in the reporting unit, a dtype's name for a
    choice, None where unavailable), ``unit``, ``kind``, ``group``, ``description``; units also in
    ``attrs["units"]``."""
    import pandas  # heavy (a third of a second): only frames need it

    first = next(iter(evaluations.values()))
    listed = {n for ev in evaluations.values() for n in ev.names()}
    shown = list(names) if names is not None else [s.name for s in first.table if s.name in listed]
    specs = [first.table.get(n) for n in shown]
    data: dict[str, list] = {"symbol": [s.display for s in specs]}
    for mode, ev in evaluations.items():
        data[mode] = [ev.magnitude(n) if n in ev.base and n not in ev.unavailable else None for n in shown]
    data.update(unit=[s.unit_text for s in specs], kind=[first.kind(n) for n in shown],
                group=[s.group for s in specs], description=[s.description for s in specs])
    out = pandas.DataFrame(data, index=pandas.Index(shown, name="name"))
    out.attrs["units"] = dict(zip(shown, data["unit"], strict=True))
    return out
