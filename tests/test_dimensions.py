"""Every declared formula is unit-checked, and planted unit mistakes are caught."""

import pytest
import sympy

from symroof import symbol
from symroof.core.errors import UnitError
from symroof.declare import dimension_of
from symroof.quantity import REGISTRY, Group, check_units


def test_every_formula_has_its_declared_dimensions():
    checked = [q for q in REGISTRY if q.expr is not None]
    assert len(checked) >= 45
    for q in checked:
        if not (q.expr.is_Number and q.expr.is_zero):  # a literal 0 (an overhead's default) fits any unit
            assert dimension_of(q.expr) == q.unit.dimensionality, q.name
        check_units(q)


def test_required_quantity_names_exist():
    names = """n_layers d_model d_ff n_heads n_kv_heads d_head vocab_size batch_size context_length n_chips
    weight_dtype kv_dtype compute_dtype prefill_length decode_length prefill_mfu model_axes hbm_capacity
    hbm_bandwidth ici_bandwidth chip_flops chip_price param_count param_bytes kv_bytes_per_token kv_cache_bytes
    total_memory_bytes min_chips min_slice_chips step_time step_time_kv step_time_flops step_time_params
    tokens_per_second tokens_per_second_per_chip qps_per_chip max_batch_size flops_per_dollar prefill_time
    evicted_tokens_per_step cost_per_million_tokens""".split()
    missing = [n for n in names if n not in REGISTRY]
    assert not missing


def test_every_quantity_is_fully_declared():
    for q in REGISTRY:
        assert q.description and q.source and q.display, q.name
        assert q.kind in ("input", "derived", "constant")


G = Group("planted", "Planted mistakes")


def test_forgetting_the_chip_count_is_caught(planted):
    # bytes / (bytes/s/chip) is seconds * chip, not seconds
    with pytest.raises(UnitError, match=r"formula bad_step has units of \[time\] \* \[chip\].*millisecond"):
        G.derived("bad_step", "x", "ms", "d", "s", symbol("kv_cache_bytes") / symbol("hbm_bandwidth"))


def test_adding_bytes_to_flops_is_caught(planted):
    with pytest.raises(UnitError, match="formula bad_sum: Add of mismatched units"):
        G.derived("bad_sum", "x", "byte", "d", "s", symbol("param_bytes") + symbol("step_flops"))


def test_max_branches_must_agree(planted):
    with pytest.raises(UnitError, match="Max of mismatched units"):
        G.derived("bad_max", "x", "ms", "d", "s", sympy.Max(symbol("step_time_kv"), symbol("param_bytes")))


def test_ceiling_needs_a_dimensionless_argument(planted):
    with pytest.raises(UnitError, match="ceiling needs a dimensionless argument"):
        G.derived("bad_ceil", "x", "chip", "d", "s", sympy.ceiling(symbol("memory_chips")))


def test_token_sequence_mixup_is_caught(planted):
    # batch (sequences) * KV per token misses the tokens per sequence
    with pytest.raises(UnitError, match="bad_kv"):
        G.derived("bad_kv", "x", "GB", "d", "s", symbol("batch_size") * symbol("kv_bytes_per_token"))


def test_unsupported_function_is_refused(planted):
    with pytest.raises(UnitError, match="cannot check the units of sin"):
        G.derived("bad_sin", "x", "", "d", "s", sympy.sin(symbol("prefill_mfu")))


def test_unknown_symbol_is_refused(planted):
    with pytest.raises(UnitError, match="not a declared symroof quantity"):
        G.derived("bad_sym", "x", "", "d", "s", sympy.Symbol("mystery"))


def test_a_correct_formula_is_accepted(planted):
    G.derived("good", "x", "s", "d", "s", symbol("kv_cache_bytes") / (symbol("n_chips") * symbol("hbm_bandwidth")))
    assert "good" in REGISTRY


def test_zero_fits_any_unit_but_other_numbers_do_not(planted):
    G.derived("floor_at_zero", "x", "ms", "d", "s", sympy.Max(0, symbol("step_time_kv")))
    with pytest.raises(UnitError, match="Max of mismatched units"):
        G.derived("floor_at_one", "x", "ms", "d", "s", sympy.Max(1, symbol("step_time_kv")))
