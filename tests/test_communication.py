"""Layouts and collectives (issue 12): alpha-beta collectives against the textbook formulas worked by hand,
the layout's bad inputs, the new thresholds against brute force, sweeps and figures over layouts.

Hand values use the catalog's published figures, cited there: H100 NVLink 450 GB/s per GPU each way (NVIDIA
H100 datasheet, 900 GB/s bidirectional), 2.95 us per all-reduce step (sglang PR #2904 measurements), scale-out
50 GB/s per GPU each way (DGX H100 datasheet, 400 Gb/s ConnectX-7 per GPU) and 2.7 us per step (NCCL's
latency model); TPU v5e ICI 200 GB/s per chip each way over 4 ports (Google Cloud TPU v5e docs) and 1 us per
hop (How to Scale Your Model).
"""

import json

import numpy
import pytest

import symroof

W_UP, A_UP = 450e9, 2.95e-6  # H100 NVLink, one direction; one step of a collective
W_OUT, A_OUT = 50e9, 2.7e-6  # H100 scale-out per GPU, one direction; one inter-node step
M = 1e6  # bytes each chip contributes


def _times(chip, n, **extra):
    ev = symroof.evaluate("llama-3-70b", chip, {"collective_bytes": f"{M} byte", "collective_chips": n, **extra})
    return {k: ev.magnitude(k) * 1e-6 for k in ("allreduce_time", "allgather_time", "reducescatter_time",
                                                 "alltoall_time", "p2p_time")}


@pytest.mark.parametrize("n", [2, 4, 8])
def test_switch_collectives_by_hand(n):
    """NVSwitch: a two-shot all-reduce (2 steps, each chip moves 2(n-1)/n of the data), one-step gathers."""
    t = _times("h100", n)
    share = (n - 1) / n
    assert t["allreduce_time"] == pytest.approx(2 * A_UP + 2 * share * M / W_UP, rel=1e-12)
    assert t["allgather_time"] == pytest.approx(A_UP + share * M / W_UP, rel=1e-12)
    assert t["reducescatter_time"] == pytest.approx(A_UP + share * M / W_UP, rel=1e-12)
    assert t["alltoall_time"] == pytest.approx(A_UP + share * M / W_UP, rel=1e-12)
    assert t["p2p_time"] == pytest.approx(A_UP + M / W_UP, rel=1e-12)


@pytest.mark.parametrize("n", [2, 4, 8])
def test_ring_collectives_by_hand(n):
    """A ring: 2(n-1) steps for an all-reduce moving 2(n-1)/n of the data; n-1 steps for the gathers;
    an all-to-all's shares travel (n-1)/2 hops on average over the one-direction ring."""
    t = _times("h100", n, scale_up_topology="ring")
    share = (n - 1) / n
    assert t["allreduce_time"] == pytest.approx(2 * (n - 1) * A_UP + 2 * share * M / W_UP, rel=1e-12)
    assert t["allgather_time"] == pytest.approx((n - 1) * A_UP + share * M / W_UP, rel=1e-12)
    assert t["alltoall_time"] == pytest.approx((n - 1) * A_UP + (n - 1) / 2 * M / W_UP, rel=1e-12)


@pytest.mark.parametrize("n", [16, 64])
def test_beyond_the_domain_the_scale_out_ring_carries_it(n):
    """More chips than the 8-GPU NVLink domain: the scale-out network's ring (its latency, its bandwidth)."""
    t = _times("h100", n)
    share = (n - 1) / n
    assert t["allreduce_time"] == pytest.approx(2 * (n - 1) * A_OUT + 2 * share * M / W_OUT, rel=1e-12)
    assert t["allgather_time"] == pytest.approx((n - 1) * A_OUT + share * M / W_OUT, rel=1e-12)
    assert t["alltoall_time"] == pytest.approx(A_OUT + share * M / W_OUT, rel=1e-12)


def test_one_chip_sends_nothing():
    assert all(v == 0 for v in _times("h100", 1).values())


def test_torus_all_gather_by_hand():
    """TPU v5e, 2D torus: 16 chips over model_axes=2 axes of 4, each a bidirectional ring (wraparound):
    A m/2 hops of latency; the bytes leave over the A axes' links, W_A = A W / d (d = 2 axes of 2 links)."""
    n, axes, dims = 16, 2, 2
    W, alpha = 200e9, 1e-6
    t = _times("tpu-v5e", n, model_axes=axes)
    m = n ** (1 / axes)
    assert t["allgather_time"] == pytest.approx(axes * m / 2 * alpha + (n - 1) / n * M / (axes * W / dims),
                                                rel=1e-12)
    assert t["allreduce_time"] == pytest.approx(2 * t["allgather_time"], rel=1e-12)


def test_llama_70b_on_8_h100_pays_160_all_reduces(cli):
    """The issue's example: 2 all-reduces a layer x 80 layers of one token's activations (8192 bf16 values)."""
    status, out, _ = cli("eval", "llama-3-70b", "h100", "--set", "tensor_parallel=8", "--set", "batch_size=1",
                         "--estimate", "--format", "json")
    assert status == 0
    data = json.loads(out)
    q = data["quantities"]
    each = 2 * A_UP + 2 * 7 / 8 * 8192 * 2 / W_UP
    assert q["tp_allreduce_time"]["value"] == pytest.approx(each * 1e6, rel=1e-12)
    assert q["step_time_comm"]["value"] == pytest.approx(160 * each * 1e3, rel=1e-12)
    assert q["n_chips"]["value"] == 8
    # estimate mode: the calibration hides none of it (comm_overlap 0), so the step time carries all of it
    bound = symroof.evaluate("llama-3-70b", "h100", {"tensor_parallel": 8, "batch_size": 1})
    assert q["step_time"]["value"] > bound.magnitude("step_time") + 160 * each * 1e3
    assert any("tensor-parallel all-reduces" in n and "latency-bound" in n for n in data["notes"])
    status, text, _ = cli("eval", "llama-3-70b", "h100", "--set", "tensor_parallel=8", "--set", "batch_size=1",
                          "--estimate")
    assert "note: communication: 954 µs per decode step" in text and "160 x 5.96 µs" in text


def test_bound_mode_keeps_the_chapters_step_time():
    """The chapter's pure model parallelism is tensor_parallel = n_chips; its step time has no collective."""
    for chips in (4, 8, 16):
        plain = symroof.evaluate("llama-3-70b", "tpu-v5e", {"n_chips": chips})
        layout = symroof.evaluate("llama-3-70b", "tpu-v5e", {"tensor_parallel": chips})
        assert layout.magnitude("n_chips") == chips
        assert layout.magnitude("step_time") == plain.magnitude("step_time")
        assert plain.magnitude("step_time_comm") > 0  # computed and shown, but not in the bound


def test_expert_parallel_all_to_alls_replace_the_moe_all_reduce():
    """DeepSeek-V3 (58 of 61 layers MoE, 8 experts a token) on 8 H200 with expert_parallel = 8."""
    ev = symroof.evaluate("deepseek-v3", "h200", {"n_chips": 8, "expert_parallel": 8, "batch_size": 16,
                                                  "weight_dtype": "fp8", "compute_dtype": "bf16"})
    moe, layers = 58, 61
    assert ev.magnitude("step_time_comm_ep") == pytest.approx(2 * moe * ev.magnitude("ep_alltoall_time") * 1e-3)
    assert ev.magnitude("step_time_comm_tp") == pytest.approx((2 * layers - moe)
                                                              * ev.magnitude("tp_allreduce_time") * 1e-3)
    # dispatch: each token's hidden vector (7168 bf16 values) to its 8 experts, this chip's 1/8 of the batch
    nbytes = 16 * 7168 * 2 * 8 / 8
    assert ev.magnitude("ep_alltoall_time") * 1e-6 == pytest.approx(A_UP_H200 + 7 / 8 * nbytes / W_UP_H200)


A_UP_H200, W_UP_H200 = 2.95e-6, 450e9  # H200: the same NVLink 4 and NVSwitch as the H100 (catalog, cited)


def test_pipeline_hand_offs():
    ev = symroof.evaluate("llama-3-70b", "h100", {"tensor_parallel": 2, "pipeline_parallel": 4, "batch_size": 8})
    assert ev.magnitude("n_chips") == 8
    handoff = A_UP + 8 * 8192 * 2 / 2 / W_UP  # each chip sends its tensor-parallel half of the activations
    assert ev.magnitude("pp_handoff_time") * 1e-6 == pytest.approx(handoff, rel=1e-12)
    assert ev.magnitude("step_time_comm_pp") * 1e-3 == pytest.approx(3 * handoff, rel=1e-12)


@pytest.mark.parametrize("argv, message", [
    (["--set", "tensor_parallel=3"], "tensor_parallel (3) does not divide the model's 64 attention heads"),
    (["--set", "tensor_parallel=4", "--set", "n_chips=8"], "tensor_parallel (4) x pipeline_parallel (1) must "
                                                            "equal n_chips (8)"),
    (["--set", "pipeline_parallel=3", "--set", "n_chips=8"], "n_chips (8) is not a multiple of "
                                                              "pipeline_parallel (3)"),
    (["--set", "pipeline_parallel=81", "--set", "n_chips=81"], "pipeline_parallel (81) is above the model's 80"),
    (["--set", "scale_up_bandwidth=0"], "scale_up_bandwidth: must be positive, got 0"),
])
def test_bad_layouts_are_refused(cli, argv, message):
    status, out, err = cli("eval", "llama-3-70b", "h100", *argv)
    assert status == 2 and message in err and not out
    assert len(err.strip().splitlines()) == 1


def test_more_experts_parallel_than_experts_is_refused(cli):
    status, _, err = cli("eval", "deepseek-v3", "h200", "--set", "expert_parallel=512", "--set", "n_chips=512")
    assert status == 2 and "expert_parallel (512) is above the model's 256 experts per layer" in err
    status, _, err = cli("eval", "deepseek-v3", "h200", "--set", "expert_parallel=3", "--set", "n_chips=8")
    assert status == 2 and "expert_parallel (3) does not divide the replica's 8 chips" in err
    status, _, err = cli("eval", "llama-3-70b", "h100", "--set", "expert_parallel=2")
    assert status == 2 and "expert_parallel (2) is above the model's 1 experts per layer" in err


def test_a_group_larger_than_the_domain_is_warned(cli):
    status, out, err = cli("eval", "llama-3-70b", "h100", "--set", "tensor_parallel=16")
    assert status == 0
    assert ("the tensor-parallel group (16 chips) is larger than the scale-up domain (8 chips)" in out + err)


def test_sweep_over_tensor_parallel_follows_the_layout(cli):
    status, out, err = cli("sweep", "llama-3-70b", "h100", "--vary", "tensor_parallel=2,4,8", "--vary",
                           "batch_size=1,16", "--estimate", "--quantities", "step_time,step_time_comm",
                           "--format", "json")
    assert status == 0, err
    rows = json.loads(out)["rows"] if isinstance(json.loads(out), dict) else json.loads(out)
    assert [r["n_chips"] for r in rows] == [2, 2, 4, 4, 8, 8]
    # more chips: a longer all-reduce per step at the same batch (bytes' share (n-1)/n grows)
    comm = {(r["tensor_parallel"], r["batch_size"]): r["step_time_comm"] for r in rows}
    assert comm[(2, 16)] < comm[(4, 16)] < comm[(8, 16)]


def test_sweep_refuses_a_layout_that_cannot_be(cli):
    status, out, err = cli("sweep", "llama-3-70b", "h100", "--vary", "tensor_parallel=2,3", "--vary",
                           "batch_size=1,16")
    assert status == 2 and "tensor_parallel (3) does not divide the model's 64 attention heads" in err


def _bracket(f, lo, hi):
    """The whole numbers n, n+1 between which f changes sign (brute force over every layout in lo..hi)."""
    xs = numpy.arange(lo, hi + 1, dtype=float)
    values = f(xs)
    i = int(numpy.argmax(numpy.sign(values) != numpy.sign(values[0])))
    assert i > 0, "no crossing in the range"
    return xs[i - 1], xs[i]


@pytest.mark.parametrize("topology", ["switch", "ring"])
def test_max_tensor_parallel_against_brute_force(topology):
    """2 all-reduces of a layer's activations = the layer's weight load: every whole tensor-parallel degree
    evaluated (pure tensor parallelism, a domain large enough to hold every candidate)."""
    fixed = {"scale_up_domain": 4096, "scale_up_topology": topology, "batch_size": 4}

    def gap(chips):
        ev = symroof.evaluate("llama-3-70b", "h100", {**fixed, "n_chips": chips})
        return 2 * ev.magnitude("tp_allreduce_time") * 1e-3 - ev.magnitude("step_time_params") / 80

    lo, hi = _bracket(gap, 2, 4000)
    root = symroof.evaluate("llama-3-70b", "h100", fixed).magnitude("max_tensor_parallel")
    assert lo <= root <= hi


@pytest.mark.parametrize("topology", ["switch", "mesh"])
def test_max_tensor_parallel_by_hand(topology):
    """Switch: 4a + 4 (Y-1)/Y M/W = P / (L Y W_hbm), so Y = (4M/W + P/(L W_hbm)) / (4a + 4M/W). Mesh (a pair
    shares one of the D-1 links): 4a + 4 M (D-1)/(Y W) = P/(L Y W_hbm), so Y = (P/(L W_hbm) - 4M(D-1)/W) / (4a)."""
    ev = symroof.evaluate("llama-3-70b", "h100", {"scale_up_topology": topology, "batch_size": 4})
    m, per_layer = 4 * 8192 * 2, ev.magnitude("param_bytes") * 1e9 / 80 / 3.35e12  # H100 HBM3 3.35 TB/s
    want = ((4 * m / W_UP + per_layer) / (4 * A_UP + 4 * m / W_UP) if topology == "switch"
            else (per_layer - 4 * m * 7 / W_UP) / (4 * A_UP))
    assert ev.magnitude("max_tensor_parallel") == pytest.approx(want, rel=1e-12)


def test_max_tensor_parallel_on_a_torus_is_the_seeds_threshold():
    ev = symroof.evaluate("llama-3-70b", "tpu-v5e", {})
    assert ev.magnitude("max_tensor_parallel") == ev.magnitude("max_model_parallelism_small_batch")


def test_comm_latency_bound_batch_against_brute_force():
    fixed = {"tensor_parallel": 8}

    def gap(batch):
        ev = symroof.evaluate("llama-3-70b", "h100", {**fixed, "batch_size": batch})
        total, fixed_part = ev.magnitude("step_time_comm"), ev.magnitude("step_time_comm_fixed")
        return fixed_part - (total - fixed_part)

    lo, hi = _bracket(gap, 1, 2000)
    want = symroof.evaluate("llama-3-70b", "h100", fixed).magnitude("comm_latency_bound_batch_size")
    assert lo <= want <= hi
    # by hand: 160 x 2 x 2.95 us of latency = 160 x B x 2 (7/8) 16384 B / 450 GB/s of bandwidth
    assert want == pytest.approx(2 * A_UP / (2 * 7 / 8 * 8192 * 2 / W_UP), rel=1e-12)


@pytest.mark.parametrize("topology", ["switch", "ring"])
def test_max_expert_parallel_against_brute_force(topology):
    """Two all-to-alls of an MoE layer = loading the experts it touches, over EP = n_chips chips."""
    fixed = {"scale_up_domain": 4096, "scale_up_topology": topology, "batch_size": 64, "weight_dtype": "fp8"}

    def gap(ep):
        ev = symroof.evaluate("deepseek-v3", "h200", {**fixed, "n_chips": ep, "expert_parallel": ep})
        return 2 * ev.magnitude("ep_alltoall_time") - ev.magnitude("moe_layer_expert_load_time")

    want = symroof.evaluate("deepseek-v3", "h200", fixed).magnitude("max_expert_parallel")
    if want >= 256:  # capped at the experts per layer: the crossing lies beyond them
        assert gap(numpy.array([256.0]))[0] < 0
        return
    lo, hi = _bracket(gap, 2, 256)
    assert lo <= want <= hi


def test_solve_prints_the_new_thresholds(cli):
    for name in ("max_tensor_parallel", "comm_latency_bound_batch_size", "max_expert_parallel"):
        status, out, err = cli("solve", name)
        assert status == 0, err
        assert "closed form" in out


def test_breakdown_figure_draws_the_collectives(tmp_path, cli):
    pytest.importorskip("plotly")
    status, out, err = cli("plot", "breakdown", "llama-3-70b", "h100", "--set", "tensor_parallel=8", "-o",
                           str(tmp_path / "b.html"))
    assert status == 0, err
    page = (tmp_path / "b.html").read_text()
    assert "collectives (not in the bound" in page
