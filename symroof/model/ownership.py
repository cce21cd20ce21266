"""Cost of ownership: what an owned chip-hour costs, and the power it draws.

Capital recovery (the textbook annuity, e.g. Blank and Tarquin, *Engineering
Economy*, the A/P factor): a price P paid now, recovered over n years at a
cost of capital r, costs P r (1+r)^n / ((1+r)^n - 1) a year (P / n when r is
0). Power: the chip's TDP, scaled up to its share of the server and by the
facility's PUE, at the electricity price. Hosting: colocation per kW of the
server's share. A year is 365 days (8,760 hours), a month 730 hours.
"""

from __future__ import annotations

import sympy

from ..declare import Group, one
from .inputs import (
    SCENARIO,
    chip_hour_cost,
    chip_price,
    chip_price_reserved_1y,
    chip_price_reserved_3y,
    chip_price_spot,
    chip_purchase_price,
    chip_tdp,
    colocation_price,
    cost_mode,
    cost_of_capital,
    depreciation_years,
    electricity_price,
    hosting_cost,
    pue,
    rent_kind,
    server_power_factor,
)

GROUP = Group("ownership", "Cost of ownership", requires=())
CRF = "capital recovery factor (A/P): r (1+r)^n / ((1+r)^n - 1); Blank and Tarquin, Engineering Economy"

_r = cost_of_capital * one("year")  # per year, as a number
_n = depreciation_years / one("year")
capital_recovery_factor = GROUP.derived(
    "capital_recovery_factor", r"\text{CRF}", "1/year", "Share of the purchase price to recover each year so that "
    "it is repaid, with interest at the cost of capital, over the depreciation period.", CRF,
    sympy.Piecewise((1 / _n, sympy.Eq(_r, 0)), (_r * (1 + _r) ** _n / ((1 + _r) ** _n - 1), True)) / one("year"),
    label="Capital recovery per year")
chip_power = GROUP.derived(
    "chip_power", r"P_{\text{wall}}", "W/chip", "Facility power one chip takes: its TDP, its share of the server, "
    "times the PUE.", "chip TDP x server power factor x PUE", chip_tdp * server_power_factor * pue,
    label="Facility power per chip")
SCENARIO.set_default(hosting_cost, colocation_price * chip_tdp * server_power_factor)
owned_chip_hour_cost = GROUP.derived(
    "owned_chip_hour_cost", r"\$_{\text{own}}", "USD/hour/chip", "What an owned chip-hour costs: capital "
    "recovery on the purchase price, plus power, plus hosting (a year is 8,760 hours).", CRF,
    chip_purchase_price * capital_recovery_factor + chip_power * electricity_price + hosting_cost,
    label="Owned cost per chip-hour")
_rent = GROUP.select(rent_kind, {"on_demand": chip_price, "reserved_1y": chip_price_reserved_1y,
                                 "reserved_3y": chip_price_reserved_3y, "spot": chip_price_spot})
SCENARIO.set_default(chip_hour_cost, GROUP.select(cost_mode, {"rent": _rent, "own": owned_chip_hour_cost}))
pue_valid = GROUP.derived(
    "pue_valid", r"\text{PUE} \ge 1", "", "Whether the PUE is at least 1: a facility draws at least the power of its "
    "IT load.", "The Green Grid, PUE: a comprehensive examination of the metric (WP#49): PUE = total facility "
    "power / IT equipment power, 1.0 at best", sympy.GreaterThan(pue, 1), boolean=True, on_false="refuse",
    says=("The PUE is valid.", "pue must be at least 1 (facility power over IT power), got {pue}"))
