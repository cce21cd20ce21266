"""The benchmark a replay runs: how many requests, their lengths and when they arrive.

Lengths are fixed (the workload's input and output), or spread uniformly over mean (1 - r) .. mean (1 + r) as
vLLM's benchmark draws its random dataset (``--random-range-ratio r``), or given as arrays or a CSV with an
input and an output column (its rows in order, repeated when the run asks for more requests). Arrivals: a
closed loop of N users who all start at once (or, ``stagger``, spread over one request's time: the closed
form's steady state), each sending its next request when the last ends; an open loop at a rate (Poisson from a
seed, or a fixed interval); or all at once (offline).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy

from ..core.errors import InputError

#: Most requests one replay runs, and the memory each takes (its state and its results, measured).
MAX_REQUESTS, BYTES_PER_REQUEST = 1_000_000, 300
#: Requests when none are given: vLLM's benchmark default (--num-prompts 1000), or ten per user of a closed loop.
DEFAULT_REQUESTS, ROUNDS = 1000, 10
#: The column names a lengths CSV may use.
COLUMNS = {"input": ("input", "input_length", "input_tokens", "input_len", "prompt_tokens", "prompt_len"),
           "output": ("output", "output_length", "output_tokens", "output_len", "completion_tokens")}


def request_count(value: Any, option: str = "--requests") -> int:
    """A number of requests: a whole number, at least 1, at most MAX_REQUESTS."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not (number >= 1 and number == int(number) if math.isfinite(number) else False):
        raise InputError(f"{option} {value!r}: give a positive whole number of requests, like 1000")
    if number > MAX_REQUESTS:
        raise InputError(f"{option} {value!r}: the replay runs at most {MAX_REQUESTS:,} requests (about "
                         f"{MAX_REQUESTS * BYTES_PER_REQUEST / 1e9:.1f} GB of state); {number:,.0f} would need "
                         f"about {number * BYTES_PER_REQUEST / 1e9:,.1f} GB")
    return int(number)


@dataclass
class Benchmark:
    """What the replay runs: ``requests`` (default: 1,000, or ten per user of a closed loop), ``spread`` (lengths
    uniform over mean (1 +- spread)), ``lengths`` ((input, output) arrays or a CSV path), ``seed``,
    ``arrivals`` (an open loop's: ``poisson`` or ``fixed``), ``stagger`` (a closed loop's users start spread
    over one request's time instead of together)."""

    requests: int | None = None
    spread: float = 0.0
    lengths: Any = None
    seed: int = 0
    arrivals: str = "poisson"
    stagger: bool = False

    def count(self, users: float | None) -> int:
        if self.requests is not None:
            return request_count(self.requests)
        if self.lengths is not None and not isinstance(self.lengths, str | Path):
            return request_count(len(self.lengths[0]))
        return request_count(max(DEFAULT_REQUESTS, ROUNDS * users) if users else DEFAULT_REQUESTS)

    def sizes(self, mean_in: float, mean_out: float, n: int) -> tuple[numpy.ndarray, numpy.ndarray]:
        """Input and output tokens of each of ``n`` requests."""
        if self.lengths is not None:
            given = read_lengths(self.lengths) if isinstance(self.lengths, str | Path) else self.lengths
            sizes = [numpy.resize(numpy.asarray(x, dtype=float), n) for x in given]
            for what, x in zip(("input", "output"), sizes, strict=True):
                if not numpy.all(numpy.isfinite(x)) or x.min() < 1:
                    raise InputError(f"the {what} lengths include {x[~(x >= 1)][0]:g}: every request has at "
                                     f"least one {what} token")
            return sizes[0], sizes[1]
        spread = float(self.spread)
        if not 0 <= spread < math.inf:
            raise InputError(f"--spread {self.spread!r}: give the lengths' spread as a ratio at least 0, like 0.2")
        rng = numpy.random.default_rng([self.seed, 0])
        out = []
        for what, mean in (("input", mean_in), ("output", mean_out)):
            if spread == 0:
                out.append(numpy.full(n, float(mean)))
                continue
            low, high = int(mean * (1 - spread)), int(mean * (1 + spread))
            if low < 1:
                raise InputError(f"--spread {self.spread!r}: {what} lengths uniform over {mean:g} x (1 +- "
                                 f"{spread:g}) reach {low} tokens; every request needs at least one, so the "
                                 f"spread must stay below {1 - 1 / mean:.3g}")
            out.append(rng.integers(low, high + 1, n).astype(float))
        return out[0], out[1]

    def issues(self, workload: str, n: int, rate: float | None) -> numpy.ndarray:
        """When each request of an open loop or an offline run is sent (seconds from the start)."""
        if workload == "max":
            return numpy.zeros(n)
        if self.arrivals == "fixed":
            return numpy.arange(n) / rate
        if self.arrivals != "poisson":
            raise InputError(f"--arrivals {self.arrivals!r}: choose poisson or fixed")
        gaps = numpy.random.default_rng([self.seed, 1]).exponential(1 / rate, n)
        return numpy.concatenate([[0.0], numpy.cumsum(gaps[:-1])])


def read_lengths(path: str | Path) -> tuple[numpy.ndarray, numpy.ndarray]:
    """The input and output columns of a lengths CSV."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise InputError(f"--lengths {str(path)!r}: cannot read it ({exc.strerror or exc})") from None
    header = {k.strip().lower(): k for k in (rows[0].keys() if rows else []) if k}
    out = []
    for what, names in COLUMNS.items():
        key = next((header[n] for n in names if n in header), None)
        if key is None:
            raise InputError(f"--lengths {str(path)!r} has no {what} column: name one of {', '.join(names)}"
                             + (f" (it has {', '.join(header)})" if header else " (it has no rows)"))
        try:
            out.append(numpy.array([float(r[key]) for r in rows]))
        except (TypeError, ValueError):
            bad = next(r[key] for r in rows if not _is_number(r[key]))
            raise InputError(f"--lengths {str(path)!r}: the {what} column holds {bad!r}, not a number") from None
    return out[0], out[1]


def _is_number(text: Any) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True
