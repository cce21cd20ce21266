"""Planning: what serving a request rate at a latency target costs.

Builds on the seed's QPS-per-chip and cost arithmetic: pick the largest batch
that both fits in HBM and meets the per-token latency target, count the
replicas (slices of ``n_chips``) a request rate needs at a utilisation, and
price them.
"""

from __future__ import annotations

import sympy

from ..quantity import Group, one
from ..symbolic import at
from .inputs import SCENARIO, batch_size, chip_price
from .memory import max_batch_size, n_chips
from .serving import cost_per_million_tokens
from .thresholds import batch_size_for_step_time, generate_rate

GROUP = Group("planning", "Planning")
Q_QPS = "seed: Thinking about throughput, Q: queries per chip (real numbers are about half)"

utilisation = SCENARIO.input(
    "utilisation", "U", "", "Fraction of the roofline throughput achieved in practice.",
    "assumption; seed: real numbers may be about half the roofline", default=sympy.Rational(1, 2), at_most=1)
target_request_rate = SCENARIO.input(
    "target_request_rate", r"\lambda", "sequence/s", "Requests (sequences) per second to serve.", "assumption",
    default=100 * one("sequence/s"))

cost_per_million_tokens_at_utilisation = GROUP.derived(
    "cost_per_million_tokens_at_utilisation", r"\$_{\text{Mtok}}^{U}", "USD/megatoken",
    "Cost of one million output tokens at the utilisation.", Q_QPS, cost_per_million_tokens / utilisation)
latency_batch_size = GROUP.derived(
    "latency_batch_size", r"B_{\text{plan}}", "sequence",
    "Largest whole batch that fits in HBM and meets the latency target.", "seed: worked problem 3",
    sympy.floor(sympy.Min(batch_size_for_step_time, max_batch_size) / one("sequence")) * one("sequence"))
replica_request_rate = GROUP.derived(
    "replica_request_rate", r"R_{\text{replica}}", "sequence/s",
    "Requests one slice of n_chips finishes per second at the planning batch (decode only).", Q_QPS,
    at(generate_rate, batch_size, latency_batch_size), basis=(generate_rate, latency_batch_size),
    rederive=lambda keep: at(generate_rate, batch_size, latency_batch_size, keep))
replicas_for_request_rate = GROUP.derived(
    "replicas_for_request_rate", r"N_{\text{replicas}}", "",
    "Slices needed to serve the request rate at the utilisation.", "assumption: decode servers only",
    sympy.ceiling(target_request_rate / (utilisation * replica_request_rate)))
chips_for_request_rate = GROUP.derived(
    "chips_for_request_rate", r"N_{\text{chips}}^{\lambda}", "chip", "Chips for the request rate (decode only).",
    "assumption: decode servers only", replicas_for_request_rate * n_chips)
monthly_cost = GROUP.derived(
    "monthly_cost", r"\$_{\text{month}}", "USD/month", "Chip cost per month of serving the request rate.",
    "chip price x chips; a month is 730 hours", chips_for_request_rate * chip_price)
