"""The layouts the configuration search scores (issue 18): slices of a chip and the ways to split a model over
one (tensor, pipeline, expert and attention-data parallelism), as :mod:`symroof.search` describes them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy

from . import catalog
from .core.errors import InputError
from .evaluation import parse_overrides

#: The layout coordinates the search chooses, as the model names them; the most chips of one replica and the
#: most configurations one search scores.
LAYOUT = ("n_chips", "tensor_parallel", "pipeline_parallel", "expert_parallel", "attention_data_parallel")
MAX_CHIPS, MAX_CONFIGURATIONS = 1024, 1_000_000


def _number(settings: Mapping[str, Any], name: str) -> float | None:
    if name not in settings:
        return None
    return float(parse_overrides({name: settings[name]}, "--set ")[name])


def _powers(lo: float, hi: float) -> list[float]:
    """Powers of two from ``lo`` to ``hi``."""
    return [2.0 ** k for k in range(int(math.log2(max(hi, 1))) + 1) if lo <= 2.0 ** k <= hi]


def _divisors(n: float, of: float | None = None) -> list[float]:
    """Powers of two dividing ``n`` (and ``of`` when given)."""
    return [d for d in _powers(1, n) if n % d == 0 and (of is None or of % d == 0)]


def space(model: catalog.Entry, hardware: catalog.Entry, settings: Mapping[str, Any], smallest: float,
          wide: bool = False) -> tuple[dict[str, numpy.ndarray], list[str]]:
    """The layouts to score (columns of equal length) and how the space was bounded; ``smallest`` is the
    fewest chips that hold the weights. ``wide``: only the layouts whose tensor parallelism spans scale-up
    domains (the second pass, when nothing keeping it inside one meets the targets)."""
    v, hv = model.values, hardware.values
    heads, layers = v.get("n_heads", 1.0), v.get("n_layers", 1.0)
    experts = v.get("n_experts", 1.0) if v.get("mlp") == "moe" else 1.0
    domain = hv.get("scale_up_domain", 1.0)
    pinned = {n: _number(settings, n) for n in LAYOUT}
    first = max(hv.get("smallest_slice", 1.0), float(2 ** math.ceil(math.log2(max(smallest, 1.0)))))
    top = min(MAX_CHIPS, max(4 * first, 2 * domain))
    chips = [pinned["n_chips"]] if pinned["n_chips"] else [
        n for n in _powers(first, top) if n == 1 or n >= hv.get("smallest_multichip_slice", 1.0)]
    notes = [f"slices of {chips[0]:g} to {chips[-1]:g} chips" if chips else "no slice",
             f"tensor parallelism across scale-up domains ({domain:g} chips each): nothing keeping it inside one "
             "meets the targets" if wide else f"tensor parallelism inside one scale-up domain ({domain:g} chips)"]
    rows = []
    for n in chips:
        for tp, pp, adps in _splits(n, pinned, heads, layers, domain, experts > 1, wide):
            for adp in adps:
                rows += [(n, tp, pp, ep, adp) for ep in _experts(n, tp, adp, experts, pinned["expert_parallel"])]
    if len(rows) > MAX_CONFIGURATIONS:
        raise InputError(f"the search space holds {len(rows):,} layouts, above {MAX_CONFIGURATIONS:,}; pin some "
                         "of them with --set (n_chips, tensor_parallel, ...)")
    columns = {name: numpy.array([r[i] for r in rows], dtype=float) for i, name in enumerate(LAYOUT)}
    return columns, notes


def _splits(n: float, pinned: Mapping[str, float | None], heads: float, layers: float, domain: float,
            moe: bool, wide: bool = False) -> list[tuple[float, float, list[float]]]:
    """(tensor_parallel, pipeline_parallel, attention-data-parallel degrees) for a slice of ``n`` chips.

    Every tensor-parallel degree that splits the heads inside one scale-up domain, pipeline stages for the
    rest; for a mixture of experts across domains also the wide layout, attention data-parallel over the slice
    with each attention group inside one domain. ``wide`` (the second pass): tensor parallelism over the
    whole slice, across domains. Pins hold whatever they pin."""
    tp_pin, pp_pin, adp_pin = pinned["tensor_parallel"], pinned["pipeline_parallel"], pinned["attention_data_parallel"]
    inside = [t for t in _divisors(n, heads) if t <= domain]  # tensor-parallel degrees that split the heads
    if tp_pin or pp_pin:
        tp = tp_pin or n / pp_pin
        splits = [(tp, n / tp)]
    elif wide:  # every chip of a slice across domains tensor-parallel (the all-reduces cross the slower network)
        splits = [(n, 1.0)] if n > domain and heads % n == 0 else []
    else:  # every split keeping tensor parallelism inside a domain (the most of it, usually, wins)
        splits = [(t, n / t) for t in inside]
        if moe and n > domain:
            splits.append((n, 1.0))
    out = []
    for tp, pp in splits:
        if tp != int(tp) or pp != int(pp) or pp > layers or heads % tp or tp > n:
            continue
        if adp_pin:  # a pinned number of attention groups must split this tensor-parallel group
            adps = [adp_pin] if tp % adp_pin == 0 else []
        elif moe:  # attention tensor-parallel over the group, or data-parallel (one group per chip)
            adps = [a for a in _divisors(tp) if tp / a <= domain or wide]
        else:
            adps = [1.0]
        if adps:
            out.append((tp, pp, adps))
    return out


def _experts(n: float, tp: float, adp: float, experts: float, pin: float | None) -> list[float]:
    """Expert-parallel degrees for a layout: split like a dense MLP (EP 1) or spread over a group of the
    replica's chips that divides the experts. Attention data parallelism goes with expert parallelism (as the
    engines run it): experts split like a dense MLP under data-parallel attention is not a layout the step
    model prices (it would count no all-reduce for them)."""
    if pin:
        return [pin]
    if experts <= 1:
        return [1.0]
    spread = [e for e in _divisors(n, experts) if e > 1]
    return spread if adp > 1 else [1.0, *spread]
