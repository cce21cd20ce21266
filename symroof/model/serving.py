"""Serving and cost: what a FLOP and a token cost at a chip-hour price.

Seed: "Serving analysis", the hardware table (FLOPs per dollar).
"""

from __future__ import annotations

from ..declare import Group
from .decode import tokens_per_second_per_chip
from .inputs import chip_flops, chip_price

GROUP = Group("serving", "Serving & cost", requires=("fits_in_hbm",))

flops_per_dollar = GROUP.derived(
    "flops_per_dollar", r"C_{\$}", "FLOP/USD", "FLOPs one dollar buys at peak in the compute dtype.",
    "seed: Serving analysis, hardware table (FLOPs / $)", chip_flops / chip_price, requires=())
cost_per_million_tokens = GROUP.derived(
    "cost_per_million_tokens", r"\$_{\text{Mtok}}", "USD/megatoken",
    "Chip cost of one million output tokens at full utilisation.", "chip price / tokens per second per chip",
    chip_price / tokens_per_second_per_chip, label="Cost per million output tokens at the roofline")
