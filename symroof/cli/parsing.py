"""Command-line text read through pint: rates, token counts, request counts, durations (issue 29).

The analyses take numbers and pint quantities; the command line's options are text, and only this module
(with ``--set``'s reader) turns that text into quantities. ``10/s``, ``10 per second``, ``600/min`` and
``2000`` (per second) are rates; the range checks are the API's own (:mod:`symroof.serve`).
"""

from __future__ import annotations

import re
from typing import Any

import pint

from ..core.errors import InputError
from ..core.units import Q_
from ..serve import request_rate, sequences
from ..serve import tokens as _tokens


def quantity(text: Any, option: str, example: str) -> pint.Quantity | Any:
    """``text`` as pint reads it (a number stays a number); an InputError saying ``example`` otherwise."""
    if not isinstance(text, str):
        return text
    try:
        return Q_(text)
    except Exception:  # pint raises a dozen kinds on text it cannot read
        raise InputError(f"{option} {text!r}: {example}") from None


def rate(text: Any, option: str = "--rate") -> pint.Quantity:
    """A request rate (``10/s``, ``600/min``, a number per second) in sequences per second."""
    starts = isinstance(text, str) and text.strip()[:1].isdigit()
    shape = "a rate is requests per unit of time, like 10/s or 600/min" if starts else \
        "give requests per second, like 2000/s"
    return request_rate(quantity(text, option, shape), option)


def tokens(text: Any, what: str, option: str | None = None) -> float:
    """Tokens per request (``--input``, ``--output``), a number at least 1."""
    option = option or f"--{what}"
    return _tokens(quantity(text, option, f"give the {what} tokens per request as a number, like 1024"), what,
                        option)


def length(text: Any, what: str, option: str | None = None) -> pint.Quantity:
    """Tokens per request as the quantity a length input takes (token/sequence)."""
    return Q_(tokens(text, what, option), "token/sequence")


def requests(text: Any, option: str) -> pint.Quantity:
    """A whole number of requests (``--concurrency``, ``--batch``) in sequences."""
    return sequences(quantity(text, option, "give a whole number of requests, like 64"), option)


def duration(text: str | None, option: str, example: str) -> str | None:
    """A target with its unit, for ``--set``'s reader; a bare number is refused (2 would be seconds for one
    target, ms for another)."""
    if text is not None and re.fullmatch(r"\s*[0-9.eE+-]+\s*", text):
        raise InputError(f"{option} {text!r}: give the unit too, like {example}")
    return text
