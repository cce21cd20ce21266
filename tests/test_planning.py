"""Traffic plans and cost of ownership (issue 13), against independent hand computations.

Textbook formulas used as the independent check:
- capital recovery (A/P) factor r (1+r)^n / ((1+r)^n - 1): Blank and Tarquin, Engineering Economy, ch. 2;
- Erlang C, C(c, a) = (a^c / c!) (c / (c - a)) / (sum_{k<c} a^k / k! + (a^c / c!) (c / (c - a))), and the M/M/c
  waiting time P(W > t) = C(c, a) exp(-(c mu - lambda) t): Kleinrock, Queueing Systems I, section 3.5.
"""

import json
import math
import re

import numpy
import pytest

import symroof
from symroof.core.numeric import erlang_c

HOURS_PER_YEAR = 8760


def crf(r, n):
    return 1 / n if r == 0 else r * (1 + r) ** n / ((1 + r) ** n - 1)


def erlang_c_textbook(c, a):
    """The textbook sum, each term a^k / k! scaled by e^-a (computed through logs, so large c does not
    overflow; the scale cancels)."""
    term = lambda k: math.exp(k * math.log(a) - a - math.lgamma(k + 1))  # noqa: E731
    top = term(c) * c / (c - a)
    return top / (sum(term(k) for k in range(c)) + top)


@pytest.mark.parametrize("c, a", [(1, 0.5), (2, 1.0), (3, 2.0), (10, 7.3), (40, 35.5), (120, 100.0)])
def test_erlang_c_against_the_textbook_sum(c, a):
    assert erlang_c(c, a) == pytest.approx(erlang_c_textbook(c, a), rel=1e-12)
    assert erlang_c(numpy.array([c, c]), numpy.array([a, a])) == pytest.approx([erlang_c_textbook(c, a)] * 2)


def test_erlang_c_is_one_when_the_queue_cannot_keep_up():
    assert erlang_c(4, 4.0) == 1 and erlang_c(4, 9.0) == 1


@pytest.mark.parametrize("r, years", [(0.0846, 5), (0.0, 4), (0.12, 3)])
def test_owned_chip_hour_by_hand(r, years):
    """H100: 41,217 USD a chip with its server share, 700 W TDP (catalog, cited); the defaults' server power
    (10.2 kW / 8 / 700 W), PUE 1.56, 0.0826 USD/kWh and 184.06 USD/kW/month colocation (inputs, cited)."""
    ev = symroof.evaluate("llama-3-70b", "h100", {"cost_of_capital": f"{r} 1/year",
                                                  "depreciation_years": f"{years} year"})
    factor = 10.2e3 / (8 * 700)
    capital = 41217 * crf(r, years) / HOURS_PER_YEAR
    power = 700 * factor * 1.56 / 1000 * 0.0826
    hosting = 184.06 * 700 * factor / 1000 * 12 / HOURS_PER_YEAR
    assert ev.magnitude("capital_recovery_factor") == pytest.approx(crf(r, years), rel=1e-12)
    assert ev.magnitude("owned_chip_hour_cost") == pytest.approx(capital + power + hosting, rel=1e-12)
    own = symroof.evaluate("llama-3-70b", "h100", {"cost_of_capital": f"{r} 1/year",
                                                   "depreciation_years": f"{years} year", "cost_mode": "own"})
    assert own.magnitude("chip_hour_cost") == own.magnitude("owned_chip_hour_cost")
    assert ev.magnitude("chip_hour_cost") == ev.magnitude("chip_price") == 10.8


PLAN = {"n_chips": 8, "request_rate": "2000 sequence/s", "input_length": "3000 token/sequence",
        "output_length": "500 token/sequence", "target_step_time": "33 ms", "prefill_replicas": 300,
        "serving_mode": "disaggregated"}


def test_ttft_percentile_by_hand():
    ev = symroof.evaluate("llama-3-70b", "h200", PLAN)
    c, a, s = 300, ev.magnitude("prefill_offered_load"), ev.magnitude("request_prefill_time")
    assert a == pytest.approx(2000 * s, rel=1e-12)
    wait_p = erlang_c_textbook(c, a)
    assert ev.magnitude("prefill_wait_probability") == pytest.approx(wait_p, rel=1e-9)
    # P(W > w) = C exp(-(c - a) w / S) = 1 - 0.99  =>  w = S ln(C / 0.01) / (c - a), or 0 when C < 0.01
    w = max(0.0, s * math.log(wait_p / 0.01) / (c - a))
    assert ev.magnitude("ttft_queue_wait") == pytest.approx(w, rel=1e-9, abs=1e-15)
    kv = 2 * 80 * 8 * 128 * 2 * 3000 / (8 * 50e9)  # K and V, 80 layers, 8 KV heads of 128, bf16; 8 x 50 GB/s
    assert ev.magnitude("kv_transfer_time") == pytest.approx(kv, rel=1e-12)
    assert ev.magnitude("ttft_at_percentile") == pytest.approx(s + w + kv, rel=1e-9)


def test_break_even_price_against_bisection():
    settings = {**PLAN, "reference_cost_per_million_tokens": "2.5 USD/megatoken"}
    want = symroof.evaluate("llama-3-70b", "h200", settings).magnitude("break_even_chip_price")

    def cost(price):
        return symroof.evaluate("llama-3-70b", "h200", {**settings, "chip_hour_cost": f"{price} USD/hour/chip"}
                                ).magnitude("cost_per_million_output_tokens")

    lo, hi = 0.01, 100.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cost(mid) < 2.5 else (lo, mid)
    assert want == pytest.approx((lo + hi) / 2, rel=1e-9)


def test_a_plan_serves_its_traffic_when_evaluated_forward():
    from symroof.planner import plan

    p = plan("llama-3-70b", "h200", {k: v for k, v in PLAN.items() if k != "prefill_replicas"})
    for mode in ("bound", "estimate"):
        ev = p.evaluations[mode]
        replicas, rate = ev.magnitude("decode_replicas"), ev.magnitude("decode_replica_rate")
        utilisation = ev.magnitude("utilisation")
        assert replicas * rate * utilisation >= 2000 > (replicas - 1) * rate * utilisation  # enough, and fewest
        assert ev.magnitude("batch_size") == ev.magnitude("plan_batch_size")
        assert ev.magnitude("priced_step_time") <= 33  # the engine step the plan prices (issue 28)
        c = ev.magnitude("prefill_replicas")
        assert ev.holds("ttft_met")
        fewer = symroof.evaluate("llama-3-70b", "h200", {**PLAN, "prefill_replicas": c - 1,
                                                         "batch_size": ev.magnitude("batch_size")},
                                 estimate=mode == "estimate", engine="vllm" if mode == "estimate" else None)
        assert not fewer.holds("ttft_met")  # one replica fewer misses the target: the fewest
        chips = (c + replicas) * 8
        assert ev.magnitude("chips_for_traffic") == chips
        assert ev.magnitude("monthly_cost") == pytest.approx(chips * 10.60 * 730, rel=1e-12)
        assert ev.magnitude("power_draw") == pytest.approx(chips * 700 * 10.2e3 / 5600 * 1.56 / 1e6, rel=1e-12)
        assert ev.magnitude("energy_per_token") == pytest.approx(ev.magnitude("power_draw") * 1e6 / (2000 * 500))


def test_old_finance_cost_is_unchanged_by_the_new_inputs():
    """cost_per_million_tokens (the seed's decode-only cost) takes none of issue 13's inputs."""
    base = symroof.evaluate("llama-3-70b", "tpu-v5e", {})
    moved = symroof.evaluate("llama-3-70b", "tpu-v5e", {"cost_mode": "own", "pue": 1.1, "request_rate": 5,
                                                         "electricity_price": "0.2 USD/kWh", "input_length": 100,
                                                         "chip_purchase_price": "10000 USD/chip"})
    assert moved.magnitude("cost_per_million_tokens") == base.magnitude("cost_per_million_tokens")
    # the seed: v5e at 1.2 USD/chip-hour
    assert base.magnitude("cost_per_million_tokens") == pytest.approx(
        1.2 / 3600 / base.magnitude("tokens_per_second_per_chip") * 1e6, rel=1e-12)


def test_plan_command_table_and_json(cli):
    argv = ["plan", "llama-3-70b", "h200", "--rate", "2000/s", "--input", "3000", "--output", "500", "--ttft-p99",
            "2s", "--tpot", "33ms", "--set", "n_chips=8"]
    status, out, err = cli(*argv)
    assert status == 0, err
    assert "bound" in out and "estimate" in out and "monthly_cost" in out and "power_draw" in out
    status, out, err = cli(*argv, "--format", "json")
    data = json.loads(out)
    _, eval_out, _ = cli("eval", "llama-3-70b", "h200", "--format", "json")
    assert set(json.loads(eval_out)) <= set(data)  # the eval contract
    q = data["quantities"]
    assert q["request_rate"]["value"] == 2000 and q["ttft_percentile"]["value"] == 99
    assert q["ttft_target"]["value"] == 2 and q["target_step_time"]["value"] == 33
    assert q["ttft_at_percentile"]["value"] <= 2


def test_plan_compare_ranks_chips(cli):
    status, out, err = cli("plan", "llama-3-70b", "h200", "--rate", "500/s", "--set", "n_chips=8", "--compare",
                           "h100,b200", "--format", "json")
    assert status == 0, err
    rows = json.loads(out)
    costs = [r["quantities"]["cost_per_million_output_tokens"]["value"] for r in rows]
    assert costs == sorted(costs) and {r["hardware"] for r in rows} == {"h100", "h200", "b200"}
    cheapest = rows[0]["quantities"]
    # the cheapest breaks even with itself at its own chip-hour cost
    assert cheapest["break_even_chip_price"]["value"] == pytest.approx(cheapest["chip_hour_cost"]["value"])
    for r in rows[1:]:
        q = r["quantities"]
        assert q["break_even_chip_price"]["value"] < q["chip_hour_cost"]["value"]


# 0.164 s: llama-3-70b's 8,192-token prompt at H200's peak on 8 chips (issue 28: the prefill fleet's engine step,
# bound mode): 2 x 70.55e9 x 8192 / (8 x 989.4e12) = 0.146 s of matmuls, 4 x 128 x 64 x 8192^2 / 2 x 80 / (8 x
# 989.4e12) = 0.011 s of causal attention, and 0.0067 s moving its KV (8 x 50 GB/s)
@pytest.mark.parametrize("argv, message", [
    (["--tpot", "1ms", "--set", "n_chips=8"],
     "closest: 8 chips: TP8, disaggregated: misses the per-token target by "),
    (["--ttft-p99", "0.05s", "--set", "n_chips=8"], "misses the TTFT target by 114 ms (228%): 164 ms against 50 ms "
                                                     "with no wait in the queue"),
    (["--ttft-p100", "2s"], "ttft_percentile must lie strictly between 0 and 100, got 100"),
    (["--set", "chip_price=-3"], "chip_price: must be positive"),
    (["--own", "--set", "depreciation_years=0"], "depreciation_years: must be positive"),
    (["--set", "prefill_replicas=3", "--set", "n_chips=8"], "the prefill queue cannot keep up"),
    (["--rate", "fast"], "--rate 'fast': give requests per second, like 2000/s"),
    (["--rent", "weekly"], "--rent weekly: choose one of on-demand, reserved-1y, reserved-3y, spot"),
])
def test_plan_bad_inputs(cli, argv, message):
    status, out, err = cli("plan", "llama-3-70b", "h200", *argv)
    assert status == 2 and message in err and not out, err


def test_own_without_a_purchase_price_says_so(cli):
    status, _, err = cli("plan", "llama-3-70b", "a100", "--own", "--set", "n_chips=8")
    assert status == 2 and "chip_purchase_price" in err


def test_an_unpriced_chip_is_planned_by_chips(cli):
    """On its default (on-demand) price a chip with none published still gets its fleets, cost n/a, said."""
    status, out, err = cli("plan", "llama-3-70b", "mi325x", "--set", "scale_out_bandwidth=50 GB/s")
    assert status == 0, err
    assert "no cost (mi325x has no chip_price" in out and "ranked by chips for the traffic" in out
    assert re.search(r"monthly_cost\s+n/a\s+n/a", out)


@pytest.mark.parametrize("kind, price", [("on-demand", 10.8), ("reserved-1y", 7.67), ("reserved-3y", 4.86),
                                         ("spot", 3.3239)])
def test_rent_kinds_take_the_catalog_price(cli, kind, price):
    """H100: Google Cloud on demand 10.80 (the seed), a3-highgpu-1g commitments 7.67 and 4.86 (2025-03-17),
    AWS p5 spot 26.59 / 8 (catalog, cited)."""
    status, out, err = cli("plan", "llama-3-70b", "h100", "--rent", kind, "--set", "n_chips=8", "--format", "json")
    assert status == 0, err
    q = json.loads(out)["quantities"]
    assert q["chip_hour_cost"]["value"] == pytest.approx(price)
    assert q["monthly_cost"]["value"] == pytest.approx(q["chips_for_traffic"]["value"] * price * 730)


def test_a_rent_kind_without_a_price_says_which(cli):
    status, _, err = cli("plan", "llama-3-70b", "b200", "--rent", "spot", "--set", "n_chips=8")
    assert status == 2 and "b200 has no chip_price_spot" in err


@pytest.mark.parametrize("c, a", [(5100, 5000.0), (20000, 19800.0), (20000, 19500.0), (5001, 4000.0)])
def test_erlang_c_beyond_the_window_equals_the_full_recursion(c, a):
    """Above 5,000 servers the recursion runs over a window around the load; the full recursion, written here
    from the Erlang B definition, gives the same chance of waiting."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    assert erlang_c(numpy.array([float(c)]), numpy.array([a]))[0] == pytest.approx(c * b / (c - a * (1 - b)),
                                                                                  rel=1e-12)


def test_a_million_erlangs_plans_in_seconds(cli):
    """Issue 20: plan --rate 1e7/s was a search linear in servers that never finished."""
    status, _, err = cli("plan", "llama-3-70b", "h200", "--rate", "1e7/s", "--set", "n_chips=8")
    assert status == 2 and "beyond the 10,000 the queue model plans" in err


@pytest.mark.parametrize("argv, message", [
    (["--rent", "spot", "--set", "chip_price=1"],
     "--set chip_price is the on-demand price, which --rent spot does not use: set chip_price_spot instead"),
    (["--own", "--set", "chip_price=1"],
     "--set chip_price is the on-demand price, which --own does not use: set chip_purchase_price instead"),
    (["--own", "--set", "pue=0.5"], "pue: must be at least 1 (facility power over IT power), got 0.5"),
])
def test_prices_a_plan_would_drop_and_impossible_facilities_are_refused(cli, argv, message):
    """Issue 20: --rent spot --set chip_price=1 dropped the user's price; pue=0.5 was accepted."""
    status, out, err = cli("plan", "llama-3-70b", "h100", "--set", "n_chips=8", *argv)
    assert status == 2 and message in err and not out, err


def test_on_demand_takes_the_users_chip_price(cli):
    status, out, err = cli("plan", "llama-3-70b", "h100", "--set", "n_chips=8", "--set", "chip_price=1",
                           "--format", "json")
    assert status == 0, err
    assert json.loads(out)["quantities"]["chip_hour_cost"]["value"] == pytest.approx(1.0)


@pytest.mark.parametrize("argv, message", [
    (["--allow-dtype", ""], "--allow-dtype is empty"),  # searched the model's own dtype without a word
    (["--allow-dtype", ", "], "--allow-dtype ', ' names no dtype"),
    (["--rate", ""], "--rate is empty"),  # became target_request_rate's default without a word
    (["--ttft", " "], "--ttft is empty"),
    (["--compare", ","], "--compare ',' names no chip besides h200"),
    (["--ttft-p99", "2s", "--ttft-p95", "1s"], "two TTFT targets (--ttft 2s, 1s; --ttft-percentile 99, 95)"),
    (["--ttft-p99", "2s", "--ttft", "1s"], "two TTFT targets (--ttft 2s, 1s; --ttft-percentile 99)"),
])
def test_options_that_would_be_dropped_are_refused(cli, argv, message):
    """Issue 31: an empty value fell back to the default, and of two TTFT targets the last was kept."""
    status, out, err = cli("plan", "llama-3-70b", "h200", *argv)
    assert status == 2 and message in err and err.count("\n") == 1 and not out, err
