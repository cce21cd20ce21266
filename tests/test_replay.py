"""The replay of a benchmark over the one engine step (issue 30, item 1).

(a) Under the closed form's own assumptions (a long closed loop in steady state, fixed lengths, every step in
one regime, no cap binding) the replay's means agree with serve's closed form to 2%; where they part, the test
says why and checks the replay against the reason computed independently. (b) Checks that need no closed form:
a static batch decodes at engine_step_time(B, 0), an idle request's first token is its prefill steps, the caps
hold, the percentiles order and rise with load. (c) Bad input: one line, exit status 2.
"""

from __future__ import annotations

import numpy
import pytest

from symroof.core.errors import InputError
from symroof.evaluation import Evaluation
from symroof.replay import Benchmark, StepPrice, replay
from symroof.replay.scheduler import Engine, run
from symroof.serve import serve

MODEL, CHIP = "llama-3.1-8b", "h100"
NO_API = {"api_overhead": "0 ms"}  # the request reaches the scheduler at a step's boundary (see test below)


def _declared_step(ev: Evaluation, sequences, prefill) -> numpy.ndarray:
    """engine_step_time (seconds) through a whole evaluation over arrays: the public route, no replay code."""
    over = Evaluation(ev.model, ev.hardware, {**ev.overrides, "step_sequences": numpy.asarray(sequences, float),
                                              "step_prefill_tokens": numpy.asarray(prefill, float)},
                      mode=ev.mode, calibration=ev.calibration, engine=ev.engine)
    return numpy.asarray(over.base["engine_step_time"], dtype=float)


def _steady_throughput(r) -> float:
    """Requests finished per second between the 20th and the 80th percentile of the finish times."""
    f = numpy.sort(r.trace.finish)
    lo, hi = len(f) // 5, 4 * len(f) // 5
    return (hi - lo) / (f[hi] - f[lo])


# --- (a) the closed form, where its assumptions hold ---
@pytest.mark.parametrize("mode", ["bound", "estimate"])
def test_means_agree_with_the_closed_form_in_its_steady_state(mode):
    """64 users, 128 in / 512 out: a step carrying a prompt stays weights-bound, as the closed form's mean step
    is; users start a request's steps apart (the steady state; started together they form waves, below)."""
    s = serve(MODEL, CHIP, 128, 512, concurrency=64, overrides=NO_API)
    ev = s.evaluations[mode]
    assert s.binding(mode) == "workload"
    r = replay(ev, Benchmark(requests=6400, stagger=True))
    got = r.values()
    for name, peer in (("ttft_mean", "ttft"), ("itl_mean", "itl"), ("e2e_latency_mean", "e2e_latency"),
                       ("replay_request_throughput", "request_throughput")):
        assert got[name] == pytest.approx(ev.base[peer], rel=0.02), name
    assert _steady_throughput(r) == pytest.approx(ev.base["request_throughput"], rel=0.005)  # no ramp, no drain
    assert r.trace.preemptions == 0


def test_the_api_time_adds_the_wait_for_the_running_step():
    """With a frontend time the request reaches the scheduler inside a step and waits for it to end: the replay's
    TTFT is the closed form's plus less than one step (the closed form counts no such wait); the rest agrees."""
    s = serve(MODEL, CHIP, 128, 512, concurrency=64, engine="vllm")
    ev = s.evaluations["estimate"]
    assert ev.base["api_overhead"] > 0
    r = replay(ev, Benchmark(requests=6400, stagger=True))
    got = r.values()
    for name, peer in (("itl_mean", "itl"), ("e2e_latency_mean", "e2e_latency"),
                       ("replay_request_throughput", "request_throughput")):
        assert got[name] == pytest.approx(ev.base[peer], rel=0.02), name
    wait = got["ttft_mean"] - ev.base["ttft"]
    assert 0 < wait < r.trace.steps["time"].max()


@pytest.mark.parametrize("mode", ["bound", "estimate"])
def test_a_flops_bound_prompt_step_is_why_long_prompts_part(mode):
    """1,000-token prompts: the step carrying one is FLOPs-bound, the decode steps weights-bound. The closed form
    prices every step at the mean prefill tokens (the step of the means, weights-bound); the replay pays each
    prompt's own step, so each request's 999 decode steps include the 63 other users' prompt steps. Its ITL is
    that mean, computed here from engine_step_time alone, about 9% above the closed form's."""
    s = serve(MODEL, CHIP, 1000, 1000, concurrency=64, overrides=NO_API)
    ev = s.evaluations[mode]
    r = replay(ev, Benchmark(requests=6400, stagger=True))
    prompt_step, decode_step = _declared_step(ev, [63, 64], [1000, 0])
    expected = (63 * prompt_step + 936 * decode_step) / 999
    assert numpy.mean(r.itl[3200:]) == pytest.approx(expected, rel=0.005)
    assert r.values()["itl_mean"] / ev.base["itl"] - 1 == pytest.approx(0.09, abs=0.01)


def test_users_started_together_form_waves():
    """Started together (as a benchmark starts them), fixed-length requests stay in waves: the first token waits
    for every user's prompt in one step, far above the closed form's spread-out steady state."""
    s = serve(MODEL, CHIP, 128, 512, concurrency=64, overrides=NO_API)
    ev = s.evaluations["bound"]
    r = replay(ev, Benchmark(requests=6400))
    assert r.values()["ttft_mean"] == pytest.approx(float(_declared_step(ev, 0, 64 * 128)), rel=1e-9)
    assert r.values()["ttft_mean"] > 10 * ev.base["ttft"]


# --- (b) checks that need no closed form ---
def test_one_step_source_of_truth():
    """The replay's price of a step is engine_step_time evaluated whole, to the last bit, in both modes."""
    s = serve(MODEL, CHIP, 1000, 1000, concurrency=16)
    sequences, prefill = numpy.arange(0, 600, 7.0), numpy.linspace(0, 9000, 86)
    for ev in s.evaluations.values():
        price = StepPrice(ev, 600)
        assert numpy.array_equal(price(sequences, prefill), _declared_step(ev, sequences, prefill))
        assert price.step(64, 0) == float(_declared_step(ev, 64, 0))


def test_a_static_batch_decodes_at_the_step_of_its_batch():
    """B identical requests at once, no caps: one step prefills all prompts, then every ITL is t(B, 0)."""
    s = serve(MODEL, CHIP, 1000, 1000, concurrency="max")
    ev = s.evaluations["bound"]
    r = replay(ev, Benchmark(requests=100))
    step, prefill = _declared_step(ev, [100, 0], [0, 100 * 1000])
    assert numpy.all(r.itl == step) and numpy.all(r.ttft == prefill)
    assert numpy.all(r.e2e_latency == prefill + 999 * step)


def test_an_idle_request_waits_only_for_its_prefill_chunks():
    """A lone 20,000-token prompt under vLLM's 8,192-token budget: two full chunks and the rest, after the API."""
    s = serve(MODEL, CHIP, 20000, 100, rate="0.001/s")
    ev = s.evaluations["estimate"]
    r = replay(ev, Benchmark(requests=3))
    chunks = _declared_step(ev, [0, 0], [8192, 20000 - 2 * 8192])
    expected = ev.base["api_overhead"] + 2 * chunks[0] + chunks[1]
    assert r.ttft == pytest.approx(numpy.full(3, expected), rel=1e-12)


def test_speculative_decoding_takes_fewer_steps():
    """Two accepted tokens a step: 999 tokens after the first in ceil(999 / 2) = 500 steps of t(B, 0)."""
    s = serve(MODEL, CHIP, 1000, 1000, concurrency="max",
              overrides={"accepted_tokens_per_step": 2, "speculative_tokens": 1})
    ev = s.evaluations["bound"]
    r = replay(ev, Benchmark(requests=50))
    step = float(_declared_step(ev, 50, 0))
    assert r.itl == pytest.approx(numpy.full(50, 500 * step / 999), rel=1e-12)


def test_the_sequence_cap_and_the_token_budget_hold():
    s = serve(MODEL, CHIP, 3000, 200, concurrency=48,
              overrides={"max_num_seqs": 8, "max_num_batched_tokens": 2048})
    ev = s.evaluations["estimate"]
    steps = replay(ev, Benchmark(requests=200)).trace.steps
    assert steps["running"].max() == 8 and steps["sequences"].max() <= 8
    assert numpy.all(steps["sequences"] + steps["prefill"] <= 2048)
    assert steps["prefill"].max() == 2048  # prompts chunked at the budget


def test_the_kv_pool_bounds_the_running_batch_and_preempts():
    """256 users of 1,000 + 1,000 tokens where the pool holds 206 whole requests: the engine admits by the prompt,
    preempts as outputs grow, and never holds more requests than the pool's blocks hold prompts; all finish."""
    s = serve(MODEL, CHIP, 1000, 1000, concurrency=256)
    ev = s.evaluations["estimate"]
    r = replay(ev, Benchmark(requests=1024))
    blocks = int(ev.base["kv_pool_sequences"] * 2000 / 16)
    assert r.trace.steps["running"].max() <= blocks // numpy.ceil(1000 / 16)
    assert r.trace.preemptions > 0 and numpy.all(numpy.isfinite(r.trace.finish))
    assert r.values()["replay_running_batch"] < 256


def test_percentiles_order_and_rise_with_load():
    p99 = []
    for rate in ("1/s", "3/s", "5/s"):
        s = serve(MODEL, CHIP, 1000, 300, rate=rate)
        got = replay(s.evaluations["estimate"], Benchmark(requests=1500)).values()
        for metric in ("ttft", "itl", "e2e_latency", "token_gap"):
            assert got[f"{metric}_p99"] >= got[f"{metric}_p90"] >= got[f"{metric}_p50"] > 0
        p99.append((got["ttft_p99"], got["itl_p99"], got["e2e_latency_p99"]))
    assert all(a < b for lo, hi in zip(p99, p99[1:], strict=False) for a, b in zip(lo, hi, strict=True))


def test_an_open_loop_is_seeded_and_finite():
    s = serve(MODEL, CHIP, 500, 200, rate="4/s")
    ev = s.evaluations["estimate"]
    one, two = (replay(ev, Benchmark(requests=2000, seed=7)) for _ in range(2))
    assert numpy.array_equal(one.trace.finish, two.trace.finish)
    assert 2000 / one.trace.issue[-1] == pytest.approx(4, rel=0.05)  # Poisson at the rate
    other = replay(ev, Benchmark(requests=2000, seed=8))
    assert not numpy.array_equal(one.trace.issue, other.trace.issue)
    fixed = replay(ev, Benchmark(requests=100, arrivals="fixed"))
    assert numpy.allclose(numpy.diff(fixed.trace.issue), 0.25)


def test_lengths_spread_and_given():
    s = serve(MODEL, CHIP, 1000, 400, concurrency=32)
    ev = s.evaluations["estimate"]
    r = replay(ev, Benchmark(requests=3000, spread=0.5))
    assert r.inputs.min() >= 500 and r.inputs.max() <= 1500 and r.inputs.mean() == pytest.approx(1000, rel=0.02)
    given = replay(ev, Benchmark(lengths=([100, 2000], [5, 50])))
    assert list(given.inputs) == [100, 2000] and list(given.outputs) == [5, 50]


class _OneSecond:
    """A step price of one second, whatever the step carries: the test below counts steps."""

    @staticmethod
    def step(sequences, prefill):
        return 1.0


def test_a_prompt_chunk_the_pool_cannot_hold_lets_the_decodes_run():
    """Separate prefill steps (SGLang) with a 4-block pool (64 tokens), a 32-token budget: A (24 in, 20 out) and
    B (40 in, 4 out) arrive together. Traced by hand from the rules (vLLM V1's preemption of the latest admitted,
    no admission in a step that preempts, SGLang's prefill steps apart): step 1 prefills A whole and B's first 8
    tokens; B's next chunk needs 3 blocks beside A's 2, so step 2 decodes A and preempts B (before the fix, step
    2 held A for B's chunk, preempted B and had nothing to run). Then while A's KV fits 2 blocks (25..32 tokens)
    steps alternate: B's 32-token chunk is admitted, A's decode preempts it (8 pairs, steps 3 to 18, 9
    preemptions in all); at 33 tokens A holds 3 blocks, B's chunk no longer fits, A decodes its last 10 tokens
    alone (t = 28); B prefills 32 + 8 (first token at t = 30) and decodes 3 more (t = 33)."""
    engine = Engine(budget=32, max_seqs=8, blocks=4, draft=1, accepted=1, api=0, separate=True)
    trace = run(engine, _OneSecond(), numpy.array([24.0, 40.0]), numpy.array([20.0, 4.0]), numpy.zeros(2),
                numpy.zeros(2))
    assert list(trace.first) == [1, 30] and list(trace.finish) == [28, 33] and trace.preemptions == 9
    steps = trace.steps
    assert numpy.all(steps["sequences"][steps["prefill"] > 0] == 0)  # a prefill step carries no decodes


def test_sglang_replays_long_prompts_that_fill_the_pool():
    """64 users of 8,000 + 1,000 tokens on SGLang, lengths spread: the pool (about 43 requests) fills while a
    prompt is still filling in chunks. Before the fix this raised 'a step with nothing to run' (as deepseek-v3
    on 4x b200 nvfp4, concurrency 128, 8192/1024 did in the held-back data); now every request finishes,
    preempted requests included, and no prefill step carries decodes."""
    s = serve(MODEL, CHIP, 8000, 1000, concurrency=64, engine="sglang")
    ev = s.evaluations["estimate"]
    assert ev.base["prefill_separate"] == 1 and ev.base["kv_pool_sequences"] < 64
    r = replay(ev, Benchmark(requests=256, spread=0.2))
    assert numpy.all(numpy.isfinite(r.trace.finish)) and r.trace.preemptions > 0
    steps = r.trace.steps
    assert numpy.all(steps["sequences"][steps["prefill"] > 0] == 0)
    assert numpy.all(r.trace.first > r.trace.issue) and numpy.all(r.trace.finish >= r.trace.first)


def test_a_request_longer_than_the_pool_is_refused_in_the_closed_forms_words():
    """The pool holds about 206 requests of 1,000 + 1,000 tokens (412,000 tokens); one of 500,000 cannot run."""
    s = serve(MODEL, CHIP, 1000, 1000, concurrency=16)
    ev = s.evaluations["estimate"]
    pool = ev.base["kv_pool_sequences"] * 2000
    assert 100_000 < pool < 500_000
    with pytest.raises(InputError, match=r"^estimate: the KV cache cannot hold request 2: the pool holds "
                                         r"[0-9,]+ tokens and its 500,000 \+ 10 tokens need 500,010; add chips"):
        replay(ev, Benchmark(lengths=([100, 500_000], [10, 10])))


# --- (c) bad input: one line, exit status 2 ---
BASE = ("serve", MODEL, CHIP, "--input", "1000", "--output", "1000", "--concurrency", "16")


@pytest.mark.parametrize("extra, says", [
    (("--replay", "--spread", "1.5"), "every request needs at least one"),
    (("--replay", "--lengths", "{csv}"), "has no output column"),
    (("--replay", "--requests", "5e7"), "at most 1,000,000 requests (about 0.3 GB"),
    (("--replay", "--requests", "0"), "positive whole number"),
    (("--replay", "--requests", "2.5"), "positive whole number"),
    (("--replay", "--requests", "many"), "positive whole number"),
    (("--requests", "100"), "--requests needs --replay"),
    (("--spread", "0.2"), "--spread needs --replay"),
])
def test_bad_replay_input_is_one_line(cli, tmp_path, extra, says):
    csv = tmp_path / "lengths.csv"
    csv.write_text("input_tokens,out\n100,20\n")
    status, _, err = cli(*BASE, *(x.format(csv=csv) for x in extra))
    assert status == 2 and err.count("\n") == 1 and says in err, err


def test_a_batch_is_not_replayed(cli):
    status, _, err = cli("serve", MODEL, CHIP, "--input", "100", "--output", "100", "--batch", "8", "--replay")
    assert status == 2 and err.count("\n") == 1 and "--concurrency max --requests N" in err


def test_the_replay_reports_in_the_table_and_the_json(cli):
    import json

    status, out, _ = cli(*BASE, "--replay", "--requests", "200", "--format", "json")
    data = json.loads(out)
    assert status == 0
    for mode in (data["quantities"], data["estimate"]["quantities"]):
        for name in ("ttft_p50", "ttft_p99", "itl_p50", "itl_p99", "e2e_latency_p99"):
            assert mode[name]["value"] > 0 and mode[name]["kind"] == "replay"
        assert mode["ttft_p99"]["unit"] == mode["ttft"]["unit"]
    assert "replay of 200 requests" in data["serve"]["replay"]
    status, out, _ = cli(*BASE, "--replay", "--requests", "200")
    assert status == 0 and "ttft_p99" in out and "itl" in out
