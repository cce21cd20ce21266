"""Sentences a yes/no quantity says (declared in the model), for the command line and for workbooks.

A sentence is text with placeholders ``{name}`` or ``{name:,.1f}`` (a
quantity's value in its reporting unit, with or without thousands
separators). :func:`render` fills them in; :func:`excel` writes the same
sentence as a live Excel formula, so a workbook's status line follows its
inputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)(?::(,?)\.(\d)f)?\}")


def names(sentence: str) -> list[str]:
    """The quantities a sentence mentions."""
    return [m.group(1) for m in PLACEHOLDER.finditer(sentence)]


def render(sentence: str, value: Callable[[str], float]) -> str:
    """The sentence with each placeholder replaced by ``value(name)``, formatted as asked."""
    def fill(m: re.Match) -> str:
        comma, digits = m.group(2) or "", m.group(3)
        v = value(m.group(1))
        return format(v, f"{comma}.{digits}f") if digits is not None else format(v, "g")

    return PLACEHOLDER.sub(fill, sentence)


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def pieces(sentence: str) -> list[tuple[str, str]]:
    """The sentence cut into (Excel expression, the same piece as a sentence) pairs, text and values in turn."""
    out, last = [], 0
    for m in PLACEHOLDER.finditer(sentence):
        if m.start() > last:
            out.append((_quote(sentence[last:m.start()]), sentence[last:m.start()]))
        digits = m.group(3) if m.group(3) is not None else "2"
        no_commas = "FALSE" if m.group(2) else "TRUE"
        out.append((f"FIXED({m.group(1)},{digits},{no_commas})", m.group(0)))
        last = m.end()
    if last < len(sentence):
        out.append((_quote(sentence[last:]), sentence[last:]))
    return out


def excel(sentence: str) -> str:
    """The sentence as an Excel string expression: ``"Needs "&FIXED(x,0)&" GB."`` (no leading ``=``)."""
    return "&".join(e for e, _ in pieces(sentence)) or '""'
