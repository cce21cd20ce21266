"""Planning: what serving a request rate at a latency target costs.

Builds on the seed's QPS-per-chip and cost arithmetic: pick the largest batch
that both fits in HBM and meets the per-token latency target, count the
replicas (slices of ``n_chips``) a request rate needs at a utilisation, and
price them.
"""

from __future__ import annotations

import sympy

from ..declare import Group, one
from .inputs import batch_size, chip_price, n_chips, target_request_rate, utilisation
from .memory import max_batch_size
from .serving import cost_per_million_tokens
from .thresholds import batch_size_for_step_time, generate_rate

GROUP = Group("planning", "Planning")
Q_QPS = "seed: Thinking about throughput, Q: queries per chip (real numbers are about half)"

cost_per_million_tokens_at_utilisation = GROUP.derived(
    "cost_per_million_tokens_at_utilisation", r"\$_{\text{Mtok}}^{U}", "USD/megatoken",
    "Cost of one million output tokens at the utilisation.", Q_QPS, cost_per_million_tokens / utilisation,
    label="Cost per million output tokens at the utilisation", requires=("fits_in_hbm",))
latency_batch_size = GROUP.derived(
    "latency_batch_size", r"B_{\text{plan}}", "sequence",
    "Largest whole batch that fits in HBM and meets the latency target (0 when none does).", "seed: worked problem 3",
    sympy.floor(sympy.Min(batch_size_for_step_time, max_batch_size) / one("sequence")) * one("sequence"),
    label="Largest batch that fits in HBM and meets the latency target")
plan_feasible = GROUP.derived(
    "plan_feasible", r"\text{plan}_{\text{ok}}", "", "Whether some batch both fits in HBM and meets the latency target "
    "(1 = yes).", "seed: worked problem 3", sympy.GreaterThan(latency_batch_size, one("sequence")), boolean=True,
    label="Latency target can be met",
    says=("Meets the latency target of {target_step_time:,.1f} ms per token at a batch of "
          "{latency_batch_size:,.0f} on a {n_chips:,.0f}-chip slice.",
          "NOT FEASIBLE: no batch both fits in HBM (largest {max_batch_size:,.0f}) and meets the latency target of "
          "{target_step_time:,.1f} ms (the weights alone take {step_time_params:,.1f} ms per step on a "
          "{n_chips:,.0f}-chip slice); the plan uses batch 1 and misses the target: add chips or relax the target."))
plan_batch_size = GROUP.derived(
    "plan_batch_size", r"B_{\text{priced}}", "sequence",
    "Batch the plan prices: the largest that fits and meets the latency target, or 1 when none does.",
    "seed: worked problem 3", sympy.Max(one("sequence"), latency_batch_size), label="Batch the plan prices")
replica_request_rate = GROUP.at(
    "replica_request_rate", r"R_{\text{replica}}", "sequence/s",
    "Requests one slice of n_chips finishes per second at the planning batch (decode only).", Q_QPS,
    generate_rate, {batch_size: latency_batch_size}, label="Requests per second one replica serves",
    requires=("fits_in_hbm", "plan_feasible"))
replicas_for_request_rate = GROUP.derived(
    "replicas_for_request_rate", r"N_{\text{replicas}}", "",
    "Slices needed to serve the request rate at the utilisation.", "assumption: decode servers only",
    sympy.ceiling(target_request_rate / (utilisation * replica_request_rate)), label="Replicas needed",
    requires=("fits_in_hbm", "plan_feasible"))
chips_for_request_rate = GROUP.derived(
    "chips_for_request_rate", r"N_{\text{chips}}^{\lambda}", "chip", "Chips for the request rate (decode only).",
    "assumption: decode servers only", replicas_for_request_rate * n_chips, label="Chips needed",
    requires=("fits_in_hbm", "plan_feasible"))
monthly_cost = GROUP.derived(
    "monthly_cost", r"\$_{\text{month}}", "USD/month", "Chip cost per month of serving the request rate.",
    "chip price x chips; a month is 730 hours", chips_for_request_rate * chip_price,
    label="Chip cost per month (decode servers)", requires=("fits_in_hbm", "plan_feasible"))
