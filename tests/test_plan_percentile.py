"""A plan's per-token target as a percentile, ``plan --tpot-p99 T`` (issue 30, item 2).

A disaggregated decode replica runs its planned batch every step, so the percentile is the mean: the plan is the
``--tpot T`` plan. A colocated plan is checked by replaying one replica's share of the traffic; what it reports is
checked against an independent ``serve(..., replay=True)`` at the plan's per-replica rate and layout (the same
seed, so the same figure), and against the target. Bad input: one line, exit status 2.
"""

from __future__ import annotations

import json

import pytest

from symroof.core.errors import InputError
from symroof.planner import plan
from symroof.serve import serve

MODEL, CHIP, RATE, IN, OUT = "llama-3.1-8b", "h100", 100.0, 1024, 256
TRAFFIC = ("plan", MODEL, CHIP, "--rate", f"{RATE:g}/s", "--input", str(IN), "--output", str(OUT))
#: What serve takes from its own options (the workload) rather than --set, and what the plan sets per replica.
WORKLOAD = (
    "batch_size",
    "context_length",
    "input_length",
    "output_length",
    "request_rate",
    "target_step_time",
    "colocated_replicas",
)


def planned(cli, *options):
    status, out, err = cli(*TRAFFIC, *options, "--format", "json")
    assert status == 0, err
    return json.loads(out)


def value(p: dict, name: str) -> float:
    return p["quantities"][name]["value"]


def test_a_disaggregated_plan_at_a_percentile_is_the_plan_at_the_mean(cli):
    pinned = ("--set", "serving_mode=disaggregated")
    at_p99, at_mean = planned(cli, "--tpot-p99", "6ms", *pinned), planned(cli, "--tpot", "6ms", *pinned)
    for name in (
        "n_chips",
        "plan_batch_size",
        "decode_replicas",
        "prefill_replicas",
        "chips_for_traffic",
        "plan_time_per_token",
        "target_step_time",
    ):
        assert value(at_p99, name) == value(at_mean, name), name
    assert value(at_p99, "plan_time_per_token") <= 6.0  # ms: every step is the planned batch's
    check = at_p99["tpot_percentile"]
    assert check["serving_mode"] == "disaggregated" and check["replayed"] is None and check["rounds"] == 1
    assert "tpot_p99_replayed" not in at_p99["quantities"]
    assert any("run their planned batch every step" in n and "its p99 is the mean" in n for n in at_p99["notes"])


@pytest.mark.parametrize("mode", ["bound", "estimate"])
def test_a_colocated_plan_meets_its_p99_by_the_replay(mode):
    target = 0.008  # s
    pins = {
        "request_rate": f"{RATE:g} sequence/s",
        "input_length": f"{IN} token/sequence",
        "output_length": f"{OUT} token/sequence",
        "serving_mode": "colocated",
        "target_step_time": "8 ms",
    }
    p = plan(MODEL, CHIP, pins, mode=mode, tpot_percentile=99)
    check = p.tpot_check
    assert check["serving_mode"] == "colocated" and check["replayed"] <= target
    # independently: serve one replica's share of the rate at the plan's layout and replay it (same seed 0)
    settings = p.settings[mode]
    replicas = float(settings["colocated_replicas"])
    overrides = {k: v for k, v in settings.items() if k not in WORKLOAD}
    again = serve(MODEL, CHIP, IN, OUT, rate=RATE / replicas, engine="vllm", overrides=overrides, replay=True)
    p99 = again.replays[mode].summary("itl", "p99")
    assert p99 == pytest.approx(check["replayed"], rel=1e-9, abs=0)
    # the check did something: the plan at a mean of 8 ms replays a p99 above 8 ms, and was lowered from it
    first = plan(MODEL, CHIP, pins, mode=mode)
    share = RATE / float(first.settings[mode]["colocated_replicas"])
    at_mean = {k: v for k, v in first.settings[mode].items() if k not in WORKLOAD}
    missed = serve(MODEL, CHIP, IN, OUT, rate=share, engine="vllm", overrides=at_mean, replay=True)
    assert missed.replays[mode].summary("itl", "p99") > target
    assert check["rounds"] > 1 and check["mean_target"] < target
    assert p.evaluations[mode].magnitude("target_step_time") == pytest.approx(check["mean_target"] * 1e3, rel=1e-12)


def test_the_replayed_p99_is_in_the_plans_json_and_table(cli):
    options = ("--tpot-p99", "8ms", "--set", "serving_mode=colocated")
    out = planned(cli, *options)
    replayed = out["quantities"]["tpot_p99_replayed"]
    assert replayed["unit"] == "millisecond" and replayed["kind"] == "replay" and replayed["value"] <= 8.0
    assert out["tpot_percentile"]["replayed"] * 1e3 == pytest.approx(replayed["value"], rel=1e-12)
    assert out["tpot_percentile"]["mode"] == out["mode"] == "bound"
    status, table, _ = cli(*TRAFFIC, *options)
    assert status == 0
    line = next(x for x in table.splitlines() if x.startswith("per-token target (bound): tpot_p99:"))
    assert f"{replayed['value']:.4g} ms replayed" in line and "within the target 8 ms" in line


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (("--tpot", "8ms", "--tpot-p99", "8ms"), "two per-token targets"),
        (("--tpot-p99", "8ms", "--tpot-p95", "6ms"), "two per-token targets"),
        (("--tpot-p0", "8ms"), "strictly between 0 and 100"),
        (("--tpot-p100", "8ms"), "strictly between 0 and 100"),
        (("--tpot-p99", "8ms", "--frontier"), "the frontier marks the mean"),
        (("--tpot-p99", "3.7ms", "--estimate", "--set", "serving_mode=colocated"), "the closest replays"),
    ],
)
def test_bad_percentile_targets_are_one_line(cli, options, says):
    status, out, err = cli(*TRAFFIC, *options)
    assert status == 2 and not out and err.count("\n") == 1 and says in err, err


def test_the_api_refuses_a_percentile_outside_0_100():
    with pytest.raises(InputError, match="strictly between 0 and 100"):
        plan(MODEL, CHIP, {"target_step_time": "8 ms"}, tpot_percentile=100)
