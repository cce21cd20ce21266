"""Issue 28: one engine step under every serving answer, with a bound that is a bound.

Expected values are independent computations from published configs and datasheets (cited where used), or
orderings any physical limit obeys, never read back from the formula under test.
"""

from __future__ import annotations

import itertools

import pytest

import symroof
from symroof.evaluation import Evaluation, parse_overrides
from symroof.serve import serve

# LLaMA 3.3 70B config.json (hidden 8192, 80 layers, intermediate 28672, vocab 128256, 64 heads, 8 KV heads of
# 128): 80 x (8192 x (8192 + 2 x 1024 + 8192) + 3 x 8192 x 28672) + 2 x 128256 x 8192 parameters
LLAMA_70B_PARAMS = 80 * (8192 * (8192 + 2 * 1024 + 8192) + 3 * 8192 * 28672) + 2 * 128256 * 8192
H100_BF16 = 989e12  # NVIDIA H100 SXM datasheet: 989 TFLOP/s dense bf16


def test_an_open_loop_beyond_peak_flops_is_overloaded_in_both_modes():
    """A rate whose matmul FLOPs alone exceed the chips' peak cannot be served, not even by the bound; half of it
    can (issue 28: the bound said 35 requests/s on 8 H100s was fine at 128% of their peak)."""
    tokens = 1024 + 1023  # every prompt token and every generated token after the first passes the weights
    peak_rate = 8 * H100_BF16 / (2 * LLAMA_70B_PARAMS * tokens)
    assert 27 < peak_rate < 28
    over = serve("llama-3.3-70b", "h100", 1024, 1024, rate=1.05 * peak_rate, overrides={"n_chips": 8})
    assert over.overloaded("bound") and over.overloaded("estimate")
    under = serve("llama-3.3-70b", "h100", 1024, 1024, rate=0.5 * peak_rate, overrides={"n_chips": 8})
    assert not under.overloaded("bound")


GRID_MODELS = (("llama-3.1-8b", {}), ("llama-3.3-70b", {"n_chips": 8}), ("qwen3-30b-a3b", {}),
               ("gpt-oss-120b", {}))
GRID_WORKLOADS = ({"concurrency": 1}, {"concurrency": 16}, {"concurrency": 256}, {"concurrency": "max"},
                  {"batch": 8}, {"rate": 0.5}, {"rate": 4.0})
GRID_LENGTHS = ((1024, 128), (8192, 512))


@pytest.mark.parametrize("model, layout", GRID_MODELS)
def test_the_bound_is_never_slower_than_the_estimate(model, layout):
    """Over models, chips, lengths and every workload: the bound gives at least the estimate's throughput and at
    most its end-to-end latency (the same users or rate); where both run the same requests (no cap binds the
    estimate) its time to first token and inter-token latency are no longer either; an open loop the estimate
    serves the bound serves."""
    checked = 0
    for chip, (isl, osl), work in itertools.product(("h100", "h200"), GRID_LENGTHS, GRID_WORKLOADS):
        r = serve(model, chip, isl, osl, overrides=layout, **work)
        if r.overloaded("estimate"):
            continue
        assert not r.overloaded("bound"), (model, chip, isl, osl, work)
        b, e = (lambda n, m=m, r=r: r.magnitude(n, mode=m) for m in ("bound", "estimate"))
        where = (model, chip, isl, osl, work)
        assert b("output_throughput") >= e("output_throughput") * (1 - 1e-9), where
        if work != {"concurrency": "max"}:  # at maximum load the bound admits what HBM holds: a larger batch
            assert b("e2e_latency") <= e("e2e_latency") * (1 + 1e-9), where
        if b("running_batch") == pytest.approx(e("running_batch"), rel=1e-9):
            assert b("itl") <= e("itl") * (1 + 1e-9), where
            assert b("ttft") <= e("ttft") * (1 + 1e-9), where
        checked += 1
    assert checked >= 20


def test_the_seeds_prefill_keeps_its_40_percent():
    """The chapter's own prefill time is unchanged at its 40% MFU; only the engine's bound runs prefill at peak."""
    ev = symroof.evaluate("llama-3-70b", "tpu-v5e")
    assert ev.magnitude("prefill_mfu") == pytest.approx(0.4)
    assert ev.magnitude("engine_prefill_mfu") == 1


def test_an_engine_setting_moves_the_estimate_without_estimate_flag(cli):
    """`--set max_num_seqs=16` (no --estimate): the estimate never runs more than 16, the bound has no cap and
    says the setting was the estimate's (issue 28: it was refused with "add --estimate")."""
    r = serve("llama-3.1-8b", "h100", 1024, 256, concurrency=64, overrides={"max_num_seqs": 16})
    assert r.magnitude("running_batch", mode="estimate") == pytest.approx(16)
    assert r.magnitude("running_batch", mode="bound") == pytest.approx(64)
    assert r.binding("estimate") == "max_num_seqs"
    assert any("max_num_seqs" in note for note in r.notes["bound"])
    free = serve("llama-3.1-8b", "h100", 1024, 256, concurrency=64)
    assert free.magnitude("running_batch", mode="estimate") == pytest.approx(64)
    status, out, err = cli("serve", "llama-3.1-8b", "h100", "--input", "1024", "--output", "256", "--concurrency",
                           "64", "--set", "max_num_seqs=16")
    assert status == 0 and "max_num_seqs set for the estimate only" in out, err


@pytest.mark.parametrize("setting, says", [
    ("max_num_seqs=2.5", "max_num_seqs (2.5) must be a whole number of sequences"),
    ("max_num_seqs=0.5", "max_num_seqs (0.5) must be a whole number of sequences"),
    ("max_num_batched_tokens=0.5", "max_num_batched_tokens (0.5) is below"),
])
def test_contradictory_engine_settings_are_one_line(cli, setting, says):
    status, out, err = cli("serve", "llama-3.1-8b", "h100", "--input", "1024", "--output", "256", "--concurrency",
                           "8", "--set", setting)
    assert status == 2 and says in err and err.count("\n") == 1 and not out, err


def test_prefix_caching_moves_serve():
    """A prompt three quarters cached computes a quarter of its tokens (issue 28: only plan saw the cache).
    8 x 1024-token prompts of LLaMA 3.1 8B are compute-bound at peak (2 x 8e9 x 8192 FLOPs >> 16 GB of weights
    at 3.35 TB/s), so in the bound the whole batch's prefill takes a quarter of the time."""
    cold = serve("llama-3.1-8b", "h100", 1024, 2, batch=8)
    warm = serve("llama-3.1-8b", "h100", 1024, 2, batch=8, overrides={"cached_prefix_fraction": 0.75})
    assert warm.magnitude("serve_prefill_tokens", mode="bound") == pytest.approx(256)
    assert warm.magnitude("ttft", mode="bound") == pytest.approx(cold.magnitude("ttft", mode="bound") / 4, rel=1e-9)
    assert warm.magnitude("ttft", mode="estimate") < 0.5 * cold.magnitude("ttft", mode="estimate")
    full = serve("llama-3.1-8b", "h100", 1024, 2, batch=8, overrides={"cached_prefix_fraction": 1})
    assert full.magnitude("serve_prefill_tokens", mode="bound") == 1  # the last token is always computed


def test_one_token_past_the_budget_is_not_a_second_full_chunk():
    """8,193 prompt tokens against vLLM's 8,192-token budget: two chunks, but 8,193 tokens of work, so the time
    to first token of one user rises by a step's fixed cost, not by a whole second chunk (issue 31: +89%)."""
    at = serve("llama-3.1-8b", "h100", 8192, 64, concurrency=1).magnitude("ttft", mode="estimate")
    past = serve("llama-3.1-8b", "h100", 8193, 64, concurrency=1).magnitude("ttft", mode="estimate")
    assert at < past < 1.1 * at


def test_attention_data_parallel_groups_load_their_own_weights_in_eval():
    """DeepSeek-V3 on 8 H200s with 8 attention groups: each group loads its own copy of the non-expert weights
    (issue 28: eval priced the step as if they were split). The non-expert share of the step's bytes is 8x, the
    experts' unchanged: an independent sum over the catalog's parameter counts."""
    one = symroof.evaluate("deepseek-v3", "h200", {"n_chips": 8, "batch_size": 64})
    eight = symroof.evaluate("deepseek-v3", "h200", {"n_chips": 8, "batch_size": 64, "attention_data_parallel": 8})
    n, routed = one.magnitude("param_count") * 1e9, one.magnitude("routed_expert_params") * 1e9
    touched = 1 - (1 - 8 / 256) ** 64  # DeepSeek-V3 config: 8 of 256 routed experts per token
    weights = lambda groups: groups * (n - routed) * 1 + routed * 1 * touched  # noqa: E731 - fp8: 1 byte each
    ratio = eight.magnitude("step_time_params") / one.magnitude("step_time_params")
    assert ratio == pytest.approx(weights(8) / weights(1), rel=1e-6)
    assert ratio > 1.1


MOE = ("deepseek-v3", "gpt-oss-120b", "gpt-oss-20b", "llama-4-scout", "mixtral-8x7b", "qwen3-235b-a22b",
       "qwen3-30b-a3b")


@pytest.mark.parametrize("model", MOE)
@pytest.mark.parametrize("groups", (1, 8))
def test_eval_and_serve_price_the_same_step(model, groups):
    """The chapter's decode step (eval) and the engine's bound step at a static batch with no prefill (serve) are
    one step for the same layout, attention data parallelism included (issue 28: 0.98 ms against 4.10 ms). The
    engine decodes at the mean context (input + output / 2), so one output token leaves half a token between them.
    """
    layout = {"n_chips": 8, "attention_data_parallel": groups}
    ev = symroof.evaluate(model, "h200", {**layout, "batch_size": 64, "context_length": 2048})
    served = serve(model, "h200", 2048, 1, batch=64, overrides=layout)
    assert served.magnitude("serve_step_time", mode="bound") == pytest.approx(ev.magnitude("step_time"), rel=1e-4)


@pytest.mark.parametrize("work", ({"concurrency": 32}, {"concurrency": "max"}, {"rate": 3.0}, {"batch": 16}))
@pytest.mark.parametrize("model, layout", (("llama-3.1-8b", {}), ("llama-3.3-70b", {"n_chips": 4}),
                                           ("qwen3-32b", {"n_chips": 2})))
def test_every_workload_is_the_one_step_at_its_own_batch(model, layout, work):
    """The workloads' closed forms are fixed points of the one declared step: engine_step_time, at the decode
    sequences and prompt tokens each workload puts in a step, is the step time serve reports (dense models,
    where the experts a step touches do not move the step)."""
    for mode in ("bound", "estimate"):
        r = serve(model, "h100", 2048, 256, overrides=layout, **work)
        ev = r.evaluations[mode]
        batch = ev.magnitude("serve_decode_batch")
        prompt = ev.magnitude("serve_tokens_per_step") - ev.magnitude("serve_first_decode_batch")
        settings = {**layout, "input_length": "2048 token/sequence", "output_length": "256 token/sequence",
                    "step_sequences": f"{batch!r} sequence", "step_prefill_tokens": f"{prompt!r} token"}
        again = Evaluation(ev.model, ev.hardware, parse_overrides(settings), mode=mode, calibration=ev.calibration,
                           engine=ev.engine)
        assert again.magnitude("engine_step_time") == pytest.approx(ev.magnitude("serve_step_time"), rel=1e-9), \
            (mode, batch, prompt)


#: The one pair where serve's three expert passes from above have not converged at the plan's layout: 16
#: pipeline stages of Llama 4 Maverick's 128 experts on TPU v5e (the weights dominate every pass). Measured: an
#: ITL of 16.4 ms against the plan's 15 ms in the estimate.
UNCONVERGED = {("llama-4-maverick", "tpu-v5e", "estimate")}


@pytest.mark.slow  # half a minute per mode: a plan for every catalog pair (CI runs the slow tier)
@pytest.mark.parametrize("mode", ("bound", "estimate"))
def test_serve_meets_what_plan_promises_on_its_layout(mode):
    """Issue 28, done when: for every catalog pair plan plans on defaults, serve on the chosen layout and serving
    mode, at one (decode or colocated) replica's share of the traffic, in the same mode (the estimate with the same
    vLLM engine profile), meets the plan's per-token and time-to-first-token targets. Tolerance: serve's step
    finds the experts an MoE step touches by three passes from above (0.2% from the fixed point, but for the
    one pair named in UNCONVERGED). Pairs where the estimate's vLLM memory rule leaves no KV pool (Llama 4 on 16
    GB and 32 GB TPUs) cannot be served at all, and are counted, not hidden."""
    from symroof import catalog
    from symroof.core.errors import InputError
    from symroof.planner import plan
    from symroof.search import LAYOUT

    checked, no_pool, missed, modes = 0, [], [], {"colocated": 0, "disaggregated": 0}
    for hid in catalog.ids("hardware"):
        for mid in catalog.ids("model"):
            try:
                p = plan(mid, hid, mode=mode)
            except InputError:
                continue
            ev = p.evaluations[mode]
            layout = {k: v for k, v in p.settings[mode].items() if k in LAYOUT or k.endswith("_dtype")}
            serving = ev.magnitude("serving_mode")
            modes[serving] += 1
            replicas = ev.magnitude("colocated_replicas" if serving == "colocated" else "decode_replicas")
            share = ev.magnitude("request_rate") / replicas
            try:
                r = serve(mid, hid, ev.magnitude("input_length"), ev.magnitude("output_length"), rate=share,
                          overrides={**layout, "serving_mode": serving})
            except InputError as e:
                assert "estimate: the KV cache cannot hold one request" in str(e), (mid, hid, str(e))
                no_pool.append(f"{mid} on {hid}")
                continue
            checked += 1
            itl, ttft = r.magnitude("itl", mode=mode), r.magnitude("ttft", mode=mode) / 1000
            if (r.overloaded(mode) or itl > ev.magnitude("target_step_time") * 1.002
                    or ttft > ev.magnitude("ttft_target")) and (mid, hid, mode) not in UNCONVERGED:
                missed.append((mid, hid, serving, itl, ttft))
    assert not missed, missed
    assert checked > 200 and len(no_pool) <= 5, (checked, no_pool)
    assert min(modes.values()) > 0, modes  # the search chose each serving mode somewhere


@pytest.mark.parametrize("kwargs, says", [({"concurrency": float("inf")}, "--concurrency inf"),
                                          ({"batch": float("inf")}, "--batch inf"),
                                          ({"rate": float("inf")}, "--rate inf"),
                                          ({"rate": "inf/s"}, "--rate 'inf/s'")])
def test_infinite_workloads_are_one_sentence(kwargs, says):
    """Issue 31: --concurrency inf and --batch inf raised OverflowError; --rate inf blamed --set request_rate."""
    from symroof.core.errors import InputError

    with pytest.raises(InputError, match="finite") as caught:
        serve("llama-3.1-8b", "h100", 100, 10, **kwargs)
    assert says in str(caught.value)


@pytest.mark.parametrize("setting", ["concurrency=8", "workload=rate"])
def test_plan_refuses_a_serving_workload(cli, setting):
    """Nothing dropped without a word: a plan is its own workload (decode replicas at the batch it prices), so a
    workload or serving mode set on it is refused with one sentence naming the setting and serve."""
    status, out, err = cli("plan", "llama-3-70b", "h100", "--estimate", "--set", setting)
    assert status == 2 and not out and err.count("\n") == 1 and setting.split("=")[0] in err and "serve" in err


def test_speculative_decoding_and_engine_caps_move_the_plan():
    """Issue 28: the plan prices the engine's step, so draft tokens accepted per step and the engine's sequence
    cap change it as they change serve. Two accepted tokens per step at the same per-token target let a step take
    twice as long, so the batch grows and fewer decode replicas serve the traffic; a sequence cap of 16 caps the
    batch the estimate prices at 16."""
    from symroof.planner import plan

    base = plan("llama-3-70b", "h100", {"n_chips": 8}, searched=False)
    drafted = plan("llama-3-70b", "h100", {"n_chips": 8, "speculative_tokens": 1, "accepted_tokens_per_step": 2},
                   searched=False)
    for mode in ("bound", "estimate"):
        assert drafted.magnitude("plan_batch_size", mode) > base.magnitude("plan_batch_size", mode)
        assert drafted.magnitude("decode_replicas", mode) < base.magnitude("decode_replicas", mode)
    capped = plan("llama-3-70b", "h100", {"n_chips": 8, "max_num_seqs": 16}, mode="estimate", searched=False)
    assert capped.magnitude("plan_batch_size", "estimate") == 16 < base.magnitude("plan_batch_size", "estimate")


@pytest.mark.parametrize("extra", ([], pytest.param(["--engine", "vllm", "--estimate"], marks=pytest.mark.slow)))
def test_a_sweep_over_request_rate_serves_each_rate(cli, extra):
    """Issue 28: `sweep --vary request_rate` was refused in bound mode and failed with --estimate. Each row is the
    open loop at its rate, as serve gives it; a rate past saturation has no latency and is not stable."""
    import csv
    import io

    status, out, err = cli("sweep", "llama-3.1-8b", "h100", "--vary", "request_rate=2,8,40", "--set",
                           "input_length=2048", "--set", "output_length=256", *extra)
    assert status == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [float(r["request_rate"]) for r in rows] == [2, 8, 40]
    mode = "estimate" if extra else "bound"
    engine = {"engine": "vllm"} if "vllm" in extra else {}
    for row in rows[:2]:
        r = serve("llama-3.1-8b", "h100", 2048, 256, rate=float(row["request_rate"]), **engine)
        if not engine and mode == "estimate":
            continue  # without an engine profile the estimate's engine is neutral: serve always has one
        assert float(row["itl"]) == pytest.approx(r.magnitude("itl", mode=mode), rel=1e-9)
    assert float(rows[1]["itl"]) > float(rows[0]["itl"])
    assert rows[2]["itl"] == "" and float(rows[2]["serve_stable"]) == 0  # 40/s is past saturation
    assert float(rows[0]["serve_stable"]) == 1
