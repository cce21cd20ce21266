"""The catalog loads, matches published configs, and rejects bad files with the file and key named."""

import textwrap

import pytest

from symroof import catalog
from symroof.core.errors import CatalogError

from .conftest import ev, value

MODELS = ["llama-3-8b", "llama-3-70b", "llama-3-405b",  # the seed's, and those issue 11 adds:
          "deepseek-v3", "qwen3-235b-a22b", "qwen3-30b-a3b", "qwen3-32b", "llama-4-scout", "llama-4-maverick",
          "gpt-oss-120b", "gpt-oss-20b", "mixtral-8x7b", "gemma-3-27b", "llama-3.1-8b", "llama-3.1-70b",
          "llama-3.1-405b", "llama-3.3-70b"]
CHIPS = ["tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e", "h100", "h200", "b200",
         "a100", "l40s", "b300", "gb200-nvl72", "mi300x", "mi325x", "mi355x", "tpu-v7", "trainium2", "gaudi3"]


def test_catalog_ids():
    assert catalog.ids("model") == sorted(MODELS)
    assert catalog.ids("hardware") == sorted(CHIPS)


@pytest.mark.parametrize("chip", CHIPS)
def test_every_chip_loads_with_sources(chip):
    entry = catalog.load("hardware", chip)
    assert set(entry.values) >= {"hbm_capacity", "hbm_bandwidth", "chip_flops_bf16", "scale_up_domain",
                                 "scale_up_topology"}
    assert all(entry.sources[k] for k in entry.values)
    if chip != "trainium2":  # AWS states no direction for NeuronLink's 1.28 TB/s: no ici_bandwidth (issue 12)
        assert "ici_bandwidth" in entry.values and entry.notes["ici_convention"]


@pytest.mark.parametrize("model, published", [
    ("llama-3-8b", 8_030_261_248),  # Meta-Llama-3-8B safetensors total
    ("llama-3-70b", 70_553_706_496),  # Meta-Llama-3-70B safetensors total
])
def test_param_count_matches_published(model, published):
    assert value(ev(model=model), "param_count", "parameter") == published


def test_405b_param_count_is_about_405e9():
    assert value(ev(model="llama-3-405b"), "param_count", "parameter") == pytest.approx(405e9, rel=0.005)


@pytest.mark.parametrize("chip", ["h100", "h200"])
def test_gpu_bf16_rate_is_dense_not_sparse(chip):
    # 1.979e15 is the 2:4-sparse figure, a common catalog error.
    assert value(ev(hardware=chip), "chip_flops_bf16", "FLOP/s/chip") == pytest.approx(9.89e14)


def test_seed_prices():
    assert value(ev(hardware="tpu-v5e"), "chip_price", "USD/hour/chip") == 1.2
    assert value(ev(hardware="tpu-v5p"), "chip_price", "USD/hour/chip") == 4.2
    assert value(ev(hardware="h100"), "chip_price", "USD/hour/chip") == 10.8


GOOD = """
id = "my-chip"
name = "My chip"
hbm_capacity = { value = "16 GB", source = "s" }
hbm_bandwidth = { value = "8.1e11 byte/s", source = "s" }
ici_bandwidth = { value = "9e10 byte/s", source = "s" }
chip_flops_bf16 = { value = "1.97e14 FLOP/s", source = "s" }
"""


def write(tmp_path, text, name="chip.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_user_catalog_file_loads(tmp_path):
    entry = catalog.load("hardware", write(tmp_path, GOOD))
    assert entry.id == "my-chip"
    assert value(ev(hardware=entry), "step_time", "ms") > 0


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('hbm_bandwidth = { value = "8.1e11 byte/s", source = "s" }\n', ""),
     r"chip.toml: missing hbm_bandwidth"),
    (lambda t: t.replace('"8.1e11 byte/s"', '"16 GB"'),
     r"chip.toml: hbm_bandwidth: gigabyte does not measure hbm_bandwidth"),
    (lambda t: t.replace('"16 GB"', '"-16 GB"'), r"chip.toml: hbm_capacity: must be positive"),
    (lambda t: t.replace('"16 GB"', '"0 GB"'), r"chip.toml: hbm_capacity: must be positive"),
    (lambda t: t.replace('"16 GB"', '"sixteen GB"'), r"chip.toml: hbm_capacity: 'sixteen GB' is not a number"),
    (lambda t: t.replace("hbm_capacity", "hbm_capacty"), r"chip.toml: unknown key 'hbm_capacty'.*hbm_capacity"),
    (lambda t: t.replace(', source = "s"', '', 1), r"chip.toml: hbm_capacity has no source"),
    (lambda t: t.replace('name = "My chip"', ""), r"chip.toml: missing text field 'name'"),
    (lambda t: t + "\n[[[", r"chip.toml: not valid TOML"),
    (lambda t: t.replace('"1.97e14 FLOP/s"', '"197 TFLOPS"'), r"chip.toml: .*write FLOP/s"),
])
def test_bad_hardware_files(tmp_path, edit, message):
    with pytest.raises(CatalogError, match=message):
        catalog.load("hardware", write(tmp_path, edit(GOOD)))


MODEL = """
id = "m"
name = "M"
source = "s"
n_layers = 2
d_model = 64
d_ff = 256
n_heads = 4
n_kv_heads = 2
d_head = 16
vocab_size = 100
"""


@pytest.mark.parametrize("edit, message", [
    # d_model may differ from n_heads * d_head (Gemma 3, Qwen3); what contradicts itself is refused:
    (lambda t: t + 'mlp = "moe"\nn_experts = 8\nn_experts_per_token = 9\n',
     r"model.toml: n_experts_per_token \(9\) is more than n_experts \(8\)"),
    (lambda t: t.replace("n_kv_heads = 2", "n_kv_heads = 3"), r"not a multiple of n_kv_heads"),
    (lambda t: t.replace("n_layers = 2", "n_layers = 2.5"), r"model.toml: n_layers: must be a whole number"),
    (lambda t: t.replace("n_layers = 2", 'n_layers = "2 GB"'), r"model.toml: n_layers: gigabyte does not measure"),
    (lambda t: t.replace("n_layers = 2", "n_layers = true"), r"model.toml: n_layers: expected a number"),
    (lambda t: t.replace('source = "s"', ""), r"model.toml: n_layers has no source"),
])
def test_bad_model_files(tmp_path, edit, message):
    with pytest.raises(CatalogError, match=message):
        catalog.load("model", write(tmp_path, edit(MODEL), "model.toml"))


def test_missing_catalog_file_is_named(tmp_path):
    with pytest.raises(CatalogError, match="no such catalog file"):
        catalog.load("model", str(tmp_path / "nope.toml"))
