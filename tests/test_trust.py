"""Defaults a user can trust (issue 20): native dtypes, slices inside one scale-up domain, impossible settings refused.

Expected values come from the publishers' configs (cited in each model file) and from the catalog's datasheets.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import symroof
from symroof import catalog

from .conftest import value


def test_deepseek_defaults_to_its_released_fp8_and_fits_one_hgx_h200():
    r = symroof.evaluate("deepseek-v3", "h200")
    assert r.magnitude("weight_dtype") == "fp8" and r.magnitude("compute_dtype") == "fp8"
    assert r.provenance["weight_dtype"] == "catalog"
    # DeepSeek-V3's README: 671B parameters; fp8 is one byte each, 141 GB per H200: 5 chips, a power of two 8
    assert value(r, "param_bytes", "GB") == pytest.approx(671.03, rel=1e-3)
    assert r.magnitude("n_chips") == 8 and r.magnitude("tensor_parallel_size") == 8
    assert r.magnitude("pipeline_stages") == 1 and r.feasible


def test_gpt_oss_defaults_to_mxfp4_experts_and_bf16_elsewhere():
    r = symroof.evaluate("gpt-oss-120b", "h100")
    assert r.magnitude("expert_dtype") == "mxfp4" and r.magnitude("weight_dtype") == "bf16"
    routed, total = r.magnitude("routed_expert_params"), r.magnitude("param_count")
    # MXFP4: 32 four-bit values and one 8-bit scale (OCP MX v1.0): 4.25 bits; bf16: 16 bits
    want = (routed * 4.25 / 8 + (total - routed) * 2) / 1e9
    assert value(r, "param_bytes", "GB") == pytest.approx(want, rel=1e-12)
    assert value(r, "param_bytes", "GB") < 0.35 * total * 2 / 1e9  # far below the bf16 size


def test_a_set_dtype_overrides_the_native_one():
    r = symroof.evaluate("deepseek-v3", "h200", weight_dtype="bf16")
    assert r.provenance["weight_dtype"] == "set" and value(r, "param_bytes", "GB") == pytest.approx(1342.05, rel=1e-3)


def _largest_power_of_two_at_most(n: float) -> float:
    return 2 ** math.floor(math.log2(n))


@pytest.mark.parametrize("chip", catalog.ids("hardware"))
def test_every_model_that_fits_a_domain_gets_a_slice_inside_it(chip):
    """Where the weights and the default batch's KV fit in a power-of-two slice of one scale-up domain, the
    default slice lies inside it, tensor parallelism within; where they do not, tensor parallelism still stays
    inside a domain when the chips fill whole domains."""
    for model in catalog.ids("model"):
        r = symroof.evaluate(model, chip)
        domain, chips = r.magnitude("scale_up_domain"), r.magnitude("n_chips")
        if r.magnitude("memory_chips") <= _largest_power_of_two_at_most(domain):
            assert chips <= domain, (model, chip, chips, domain)
        elif chips % domain == 0 and chips / domain <= r.magnitude("n_layers"):
            assert r.magnitude("tensor_parallel_size") <= domain, (model, chip)
            assert r.magnitude("pipeline_stages") * r.magnitude("tensor_parallel_size") == chips


def test_the_chapters_pure_model_parallelism_is_kept_when_the_chips_do_not_fill_domains():
    r = symroof.evaluate("llama-3-70b", "tpu-v5e", n_chips=257)  # one past a v5e pod (256)
    assert r.magnitude("pipeline_stages") == 1 and r.magnitude("tensor_parallel_size") == 257


def test_405b_across_two_hgx_h100_pipelines_over_the_network_and_keeps_tp8_inside():
    r = symroof.evaluate("llama-3-405b", "h100")
    assert r.magnitude("n_chips") == 16 and r.magnitude("pipeline_stages") == 2
    assert r.magnitude("tensor_parallel_size") == 8 and r.holds("tensor_parallel_within_scale_up")


def test_explain_n_chips_states_the_rule(cli):
    _, out, _ = cli("explain", "n_chips")
    assert "scale-up domain" in out and "pipeline_stages" in out


@pytest.mark.parametrize("overrides, message", [
    ({"n_experts_per_token": 300}, "n_experts_per_token (300) is above n_experts (256)"),
    ({"n_experts": 4}, "n_experts_per_token (8) is above n_experts (4)"),
])
def test_impossible_moe_settings_are_refused(cli, overrides, message):
    argv = [x for k, v in overrides.items() for x in ("--set", f"{k}={v}")]
    status, out, err = cli("eval", "deepseek-v3", "h200", *argv)
    assert status == 2 and message in err and err.count("\n") == 1 and out == ""


def test_a_sweep_past_the_experts_is_refused(cli):
    status, _, err = cli("sweep", "mixtral-8x7b", "h100", "--vary", "n_experts_per_token=1,2,16")
    assert status == 2 and "n_experts_per_token (16) is above n_experts (8)" in err


def test_pinning_param_bytes_keeps_critical_batch_size():
    r = symroof.evaluate("llama-3-70b", "tpu-v5e", param_bytes="100 GB")
    c, w, n = r.magnitude("chip_flops"), r.magnitude("hbm_bandwidth"), r.magnitude("param_count")
    assert r.magnitude("critical_batch_size") == pytest.approx(c * 100e9 / (2 * w * n), rel=1e-12)


def test_deepseek_r1_is_an_alias_of_deepseek_v3s_file(cli, tmp_path):
    """Issue 31: serve --help's example named deepseek-r1, which was no catalog id. Its Hugging Face config.json
    (huggingface.co/deepseek-ai/DeepSeek-R1) has DeepSeek-V3's architecture keys, values and fp8 weights."""
    r1, v3 = symroof.evaluate("deepseek-r1", "h200"), symroof.evaluate("deepseek-v3", "h200")
    assert r1.magnitude("weight_dtype") == "fp8" and r1.magnitude("n_experts") == 256
    assert value(r1, "param_bytes", "GB") == pytest.approx(671.03, rel=1e-3)  # the README's 671B, one byte each
    assert value(r1, "step_time", "ms") == value(v3, "step_time", "ms")
    status, out, _ = cli("list", "models")
    assert status == 0 and any(line.split()[0] == "deepseek-r1" and "deepseek-v3" in line for line in out.splitlines())
    status, out, _ = cli("list", "models", "--format", "json")
    assert {"id": "deepseek-r1", "name": "DeepSeek-R1", "alias_of": "deepseek-v3"} in json.loads(out)
    status, out, err = cli("eval", "deepseek-r1", "h200", "--format", "json")
    assert status == 0 and json.loads(out)["model"] == "deepseek-r1", err
    # the example of symroof serve --help
    status, out, err = cli("serve", "deepseek-r1", "h200", "--input", "1000", "--output", "1000", "--concurrency",
                           "max", "--engine", "sglang", "--set", "attention_data_parallel=8")
    assert status == 0 and out.startswith("DeepSeek-R1 on NVIDIA H200"), err
    status, _, err = cli("eval", "deepseek-r2", "h200")
    assert status == 2 and "deepseek-r1" in err and err.count("\n") == 1


def test_a_malformed_alias_is_one_line(cli, tmp_path):
    text = (Path(catalog.__file__).parent / "models" / "deepseek-v3.toml").read_text()
    path = tmp_path / "mine.toml"
    path.write_text(text.replace('aliases = [', 'aliases = ["deepseek-r1", ', 1))
    status, _, err = cli("eval", str(path), "h200")
    assert status == 2 and "each alias must be { id = ..., name = ..., source = ... }" in err and str(path) in err
    assert err.count("\n") == 1
