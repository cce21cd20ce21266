"""Colocated fleets in the plan and the search (issue 28): the fleet of engines that prefill and decode their share of
the traffic, scored beside disaggregated fleets, checked against serve and against the queueing formula by hand.

The independent checks: serve's own open loop at one replica's share (the engine model the plan must agree with),
and the M/G/1 exponential tail P(wait > t) = rho exp(-rho t / W) with the mean wait W serve reports, inverted by
hand at the percentile.
"""

import json
import math

import pytest

import symroof
from symroof.planner import plan
from symroof.serve import serve

SMALL = {"request_rate": "1 sequence/s", "input_length": "512 token/sequence", "output_length": "256 token/sequence",
         "target_step_time": "50 ms"}


@pytest.mark.parametrize("mode", ["bound", "estimate"])
def test_a_colocated_plan_is_the_fewest_replicas_serve_says_meet_the_targets(mode):
    p = plan("llama-3.1-8b", "h100", {"request_rate": "40 sequence/s", "input_length": "2048 token/sequence",
                                      "output_length": "256 token/sequence", "target_step_time": "20 ms",
                                      "serving_mode": "colocated", "n_chips": 1, "tensor_parallel": 1}, mode=mode)
    ev = p.evaluations[mode]
    n = ev.magnitude("colocated_replicas")
    assert ev.magnitude("serving_mode") == "colocated"
    assert ev.magnitude("chips_for_traffic") == n * 1
    # serve, one replica's share of the traffic, colocated: ITL within the per-token target, and it keeps up
    share = serve("llama-3.1-8b", "h100", 2048, 256, rate=40 / n,
                  overrides={"n_chips": 1, "serving_mode": "colocated", "target_step_time": "20 ms"})
    assert not share.overloaded(mode)
    assert share.magnitude("itl", mode) <= 20 * (1 + 1e-9)
    assert ev.magnitude("plan_time_per_token") == pytest.approx(share.magnitude("itl", mode), rel=1e-9)
    assert ev.holds("ttft_met") and ev.holds("tpot_met")
    # one replica fewer takes more than the utilisation of the highest rate meeting the ITL target, or misses the
    # TTFT target: the fewest (the utilisation is the plan's headroom, as for decode replicas)
    fewer = symroof.evaluate("llama-3.1-8b", "h100", {**p.settings[mode], "colocated_replicas": n - 1},
                             estimate=mode == "estimate", engine="vllm" if mode == "estimate" else None)
    headroom = ev.magnitude("utilisation") * ev.magnitude("max_request_rate_for_itl")
    assert n == 1 or 40 / (n - 1) > headroom or not fewer.holds("ttft_met")
    assert 40 / n <= headroom * (1 + 1e-12)


def test_the_colocated_ttft_percentile_by_hand():
    """The wait at p99: W / rho x ln(rho / 0.01) when more than 1% of prompts wait (rho > 0.01), else 0; W and rho
    as serve reports them at one replica's share (vLLM's engine, a 2,048-token budget); TTFT adds the API's time
    and the prompt's chunks."""
    settings = {"request_rate": "20 sequence/s", "input_length": "4096 token/sequence",
                "output_length": "128 token/sequence", "serving_mode": "colocated", "n_chips": 1,
                "colocated_replicas": 4, "max_num_batched_tokens": "2048 token"}
    ev = symroof.evaluate("llama-3.1-8b", "h100", settings, estimate=True, engine="vllm")
    rho, mean_wait = ev.magnitude("prefill_share_utilisation"), ev.magnitude("prefill_queue_wait") / 1e3  # s
    assert 0.01 < rho < 1  # the case where the tail matters
    wait = mean_wait / rho * math.log(rho / 0.01)
    assert ev.magnitude("ttft_queue_wait") == pytest.approx(wait, rel=1e-9)
    chunks = ev.magnitude("prefill_chunks") * ev.magnitude("serve_prefill_step_time") / 1e3
    assert ev.magnitude("prefill_chunks") == 2  # 4,096 prompt tokens in 2,048-token chunks
    api = ev.magnitude("api_overhead") / 1e3
    assert ev.magnitude("ttft_at_percentile") == pytest.approx(api + wait + chunks, rel=1e-9)
    # serve at 5/s (20 over 4 replicas) reports the same engine
    share = serve("llama-3.1-8b", "h100", 4096, 128, rate=5,
                  overrides={"n_chips": 1, "max_num_batched_tokens": "2048 token"})
    assert share.magnitude("prefill_queue_wait", "estimate") == pytest.approx(ev.magnitude("prefill_queue_wait"),
                                                                          rel=1e-9)


def test_the_search_picks_the_cheaper_serving_mode_and_says_which(cli):
    """A trickle of traffic: one colocated replica serves it, where disaggregated needs a prefill and a decode
    replica (twice the chips). A prompt-heavy rate: the search's choice is the cheaper of the two it scored."""
    status, out, err = cli("plan", "llama-3.1-8b", "h100", "--rate", "1/s", "--input", "512", "--output", "256",
                           "--tpot", "50ms", "--format", "json")
    assert status == 0, err
    layout = json.loads(out)["search"]["layout"]
    assert layout["serving_mode"] == "colocated" and layout["colocated_replicas"] == 1
    p = plan("llama-3.1-8b", "h100", SMALL)
    assert p.magnitude("chips_for_traffic") == p.magnitude("n_chips")
    frame = p.search.frame
    met = frame[frame["meets"]]
    assert set(frame["serving_mode"]) == {"colocated", "disaggregated"}
    assert met.iloc[0]["monthly_cost"] == met["monthly_cost"].min()
    for serving in ("colocated", "disaggregated"):  # each mode's best is what a plan pinned to it finds
        pinned = plan("llama-3.1-8b", "h100", {**SMALL, "serving_mode": serving})
        best = met[met["serving_mode"] == serving].iloc[0]
        assert pinned.magnitude("monthly_cost") == pytest.approx(best["monthly_cost"], rel=1e-12)


def test_a_serving_mode_that_does_not_exist_is_one_line(cli):
    status, out, err = cli("plan", "llama-3.1-8b", "h100", "--set", "serving_mode=split")
    assert status == 2 and not out and err.count("\n") == 1 and "serving_mode" in err and "colocated" in err


def test_the_frontier_refuses_a_colocated_fleet_in_one_line(cli):
    status, out, err = cli("plan", "llama-3.1-8b", "h100", "--frontier", "--set", "serving_mode=colocated")
    assert status == 2 and not out and err.count("\n") == 1 and "prices disaggregated fleets" in err


def test_a_percentile_tpot_on_the_plan_frontier_is_one_line(cli, tmp_path):
    """The plan frontier marks the mean per-token target, and says so (the expansion of --tpot-pNN for serve made it
    an unknown option here); symroof plan checks a percentile by the replay (tests/test_plan_percentile.py)."""
    status, out, err = cli("plot", "frontier", "llama-3-70b", "h200", "--tpot-p99", "33ms", "-o",
                           str(tmp_path / "never.html"))
    assert status == 2 and not out and err.count("\n") == 1 and "symroof plan --tpot-pNN" in err
    assert not (tmp_path / "never.html").exists()


def test_eval_with_the_engine_prices_the_step_plan_prices(cli):
    """Issue 28: eval, serve and plan give one step for one layout, the estimate included: `eval --estimate
    --engine vllm` at the plan's settings prices the decode step the plan priced (DeepSeek-V3 on 8 H200s)."""
    pins = {"n_chips": 8, "tensor_parallel": 8, "attention_data_parallel": 8, "expert_parallel": 8,
            "serving_mode": "disaggregated"}
    p = plan("deepseek-v3", "h200", pins, mode="estimate")
    sets = [x for k, v in p.settings["estimate"].items() for x in ("--set", f"{k}={v}")]
    status, out, err = cli("eval", "deepseek-v3", "h200", *sets, "--estimate", "--engine", "vllm", "--format", "json")
    assert status == 0, err
    step = json.loads(out)["quantities"]["priced_step_time"]["value"]
    assert step == pytest.approx(p.magnitude("priced_step_time", "estimate"), rel=1e-12)
    status, _, err = cli("eval", "deepseek-v3", "h200", "--engine", "vllm")
    assert status == 2 and "add --estimate" in err
