"""Issue 31, item 6: output a person reads at a glance.

``symroof eval MODEL HARDWARE`` shows the chapter's answers on one screen
(``--all`` every quantity), numbers in the units a reader expects through one
renderer (``symroof/cli/render.py``); JSON and CSV stay complete and unchanged.
Expected values come from the seed (tests/test_seed.py), not from the code.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

import symroof
from symroof.cli import render
from symroof.core.units import Q_

from .conftest import ev

ROW = re.compile(r"^  \s*(?P<label>\S.*?)\s{2,}(?P<value>\S.*?)\s{2,}(?P<name>[a-z_0-9]+)(?: \(NOT FEASIBLE\))?$")


def shown(out: str) -> dict[str, str]:
    """{quantity: value as shown} of the short view's rows."""
    return {m["name"]: m["value"] for m in map(ROW.match, out.splitlines()) if m}


def read(text: str):
    """A shown value read back with pint: ``$2.89/Mtok`` is 2.89 USD/Mtok, ``1,847 tok/s`` 1847 tok/s."""
    text = text.replace(",", "")
    if text.startswith("$"):
        number, _, rest = text[1:].partition("/")
        return Q_(f"{number} USD" + (f"/{rest}" if rest else ""))
    return Q_(text)


# --- the short view ---
def test_the_default_eval_fits_one_screen_and_shows_the_seeds_numbers(cli):
    status, out, err = cli("eval", "llama-3-70b", "tpu-v5e")
    assert status == 0, err
    lines = out.rstrip("\n").splitlines()
    assert len(lines) <= 45 and max(map(len, lines)) <= 120, out
    assert lines[0] == "LLaMA 3 70B on TPU v5e"
    v = {name: read(text) for name, text in shown(out).items()}
    # Seed, smallest topology for bf16: 140 GB of parameters (70e9 rounded; exact 70.55e9 x 2 bytes)
    assert v["param_bytes"].to("GB").magnitude == pytest.approx(140, rel=0.01)
    # Seed: 324 kB of bf16 KV per token (exact 2 x 8 x 128 x 80 x 2 = 327,680 bytes), shown to 3 digits
    assert v["kv_bytes_per_token"].to("byte/token").magnitude == pytest.approx(327_680, rel=0.002)
    # Seed: 16 chips hold bf16 weights; 43 KV caches of 8k fit (42 with the exact parameter count)
    assert v["min_slice_chips"].to("chip").magnitude == 16
    assert v["max_batch_size"].to("sequence").magnitude == pytest.approx(43, abs=1)
    # Seed: the critical batch is 240 (1.97e14 / 8.2e11)
    assert v["critical_batch_size"].to("sequence").magnitude == pytest.approx(240, rel=0.01)
    # Seed: a full HBM is read once per step at the largest batch: 16 GB / 8.2e11 = 19.5 ms ("19 ms")
    assert v["step_time_at_max_batch"].to("ms").magnitude == pytest.approx(16e9 / 8.2e11 * 1e3, rel=0.01)
    # Seed: prefill of 8,192 tokens on 16 chips at 40% MFU: 0.91 s
    assert v["prefill_time"].to("s").magnitude == pytest.approx(0.91, rel=0.01)
    # Seed, hardware table: 5.8e17 FLOP per dollar (its slip; 1.97e14 x 3600 / 1.2 = 5.91e17)
    assert v["flops_per_dollar"].to("FLOP/USD").magnitude == pytest.approx(1.97e14 * 3600 / 1.2, rel=0.005)
    # Seed's step: (weights + KV of the batch) / (chips x bandwidth), memory-bound, at batch 32 and 8k on 16 chips
    step = (2 * 70.55e9 + 32 * 8192 * 327_680) / (16 * 8.2e11)
    assert v["step_time"].to("s").magnitude == pytest.approx(step, rel=0.015)
    assert v["step_time_params"].to("s").magnitude == pytest.approx(2 * 70.55e9 / (16 * 8.2e11), rel=0.015)
    assert v["tokens_per_second_per_chip"].to("token/s/chip").magnitude == pytest.approx(32 / step / 16, rel=0.015)
    # ... priced at the seed's 1.2 USD per chip-hour
    assert v["chip_price"].to("USD/chip/hour").magnitude == pytest.approx(1.2)
    assert v["cost_per_million_tokens"].to("USD/megatoken").magnitude == pytest.approx(
        1.2 / 3600 / (32 / step / 16) * 1e6, rel=0.015)
    assert "add --all" in lines[-1]


def test_the_short_view_says_a_point_does_not_fit(cli):
    status, out, _ = cli("eval", "llama-3-70b", "tpu-v5e", "--set", "n_chips=4")
    assert status == 0
    assert "NOT FEASIBLE" in out.splitlines()[2] and "warning: DOES NOT FIT" in out
    assert re.search(r"step_time \(NOT FEASIBLE\)", out)


def test_all_shows_every_quantity(cli):
    status, out, _ = cli("eval", "llama-3-70b", "tpu-v5e", "--all")
    assert status == 0
    names = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    r = ev()
    assert set(r.names()) | set(r.unavailable) <= names
    assert set(r.to_dict()["quantities"]) <= names
    assert max(map(len, out.splitlines())) <= 240


# --- units a reader expects ---
def test_dollars_carry_thousands_separators(cli):
    assert render.quantity(2144450, "USD / month") == "$2,144,450/month"
    assert render.quantity(7.97, "USD / megatoken") == "$7.97/Mtok"
    _, out, _ = cli("eval", "llama-3-70b", "tpu-v5e", "--all")
    assert re.search(r"monthly_cost\s+\$\d{1,3}(,\d{3})+/month\s", out)
    assert re.search(r"chip_price\s+\$1\.20/chip/h\s", out)


def test_a_cap_that_never_binds_shows_none(cli):
    from symroof.model.engine_inputs import BIG

    assert render.NO_CAP == BIG  # the renderer's copy of the sentinel (importing the model loads sympy)
    _, out, _ = cli("eval", "llama-3-70b", "tpu-v5e", "--all")
    for cap in ("max_num_seqs", "max_num_batched_tokens", "cuda_graph_max_batch"):
        assert re.search(rf"^  {cap}\s+none\s", out, re.M), cap
    assert "1e+12" not in out


def test_hardware_in_the_units_people_write(cli):
    _, out, _ = cli("eval", "llama-3-70b", "h100")
    rows = shown(out)
    assert rows["hbm_bandwidth"] == "3.35 TB/s/chip"  # not 3.35e+12 B/chip/s
    assert rows["chip_flops"] == "989 TFLOP/s/chip"  # dense bf16
    assert rows["hbm_capacity"] == "80 GB/chip"
    _, out, _ = cli("eval", "llama-3-70b", "tpu-v5e")
    assert shown(out)["hbm_bandwidth"] == "819 GB/s/chip"


@pytest.mark.parametrize("value, unit, text", [
    (17.3235, "millisecond", "17.3 ms"),
    (0.91684, "second", "917 ms"),
    (1500, "millisecond", "1.5 s"),
    (0.024576, "millisecond / sequence", "24.6 µs/seq"),
    (999.7, "millisecond", "1 s"),  # rounds up to the next step, never "1e+03 ms"
    (0, "microsecond", "0 µs"),
    (141.107, "gigabyte", "141 GB"),
    (1300, "gigabyte", "1.3 TB"),
    (327680, "byte / token", "328 kB/tok"),
    (1.97e14, "FLOP / chip / second", "197 TFLOP/s/chip"),
    (2.5e15, "FLOP / chip / second", "2.5 PFLOP/s/chip"),
    (5.91e17, "FLOP / USD", "591 PFLOP/USD"),
    (1847.2, "token / second", "1,847 tok/s"),
    (115.45, "token / chip / second", "115 tok/s/chip"),
    (128256, "", "128,256"),
    (3.3078, "", "3.31"),
    (0.0846, "1 / year", "0.0846/yr"),
    (1.2, "USD / chip / hour", "$1.20/chip/h"),
    (0.518289, "USD / megatoken", "$0.518/Mtok"),
    (1.4857e6, "USD / month", "$1,485,700/month"),
    (0.43, "megawatt", "430 kW"),
])
def test_the_renderer_picks_the_unit_by_size(value, unit, text):
    assert render.quantity(value, unit) == text


def test_units_come_from_pint_not_from_factors():
    """Every declared unit renders, and what is shown reads back (pint) to the value within its 3 digits."""
    r = ev(hardware="h100")
    for name in r.names():
        s = r.spec(name)
        if s.categorical or s.boolean:
            continue
        text = render.value_text(r, name)
        if text == "none":
            continue
        back = read(text).to(s.unit).magnitude if s.unit_text else float(text.replace(",", ""))
        assert back == pytest.approx(r.magnitude(name), rel=0.006, abs=1e-300), (name, text)


def test_the_notebook_shows_values_as_the_tables_do():
    """The HTML reprs write each value through the same formatter as the command line (issue 31, item 6)."""
    from symroof.evaluation import text

    assert render.value_text is text.value_text and render.quantity is text.quantity  # one formatter
    page = symroof.evaluate("llama-3-70b", "h100")._repr_html_()
    assert re.search(r"<code>hbm_bandwidth</code></td><td[^>]*>3\.35 TB/s/chip</td>", page)
    assert re.search(r"<code>monthly_cost</code></td><td[^>]*>\$\d{1,3}(,\d{3})+/month</td>", page)
    assert re.search(r"<code>max_num_seqs</code></td><td[^>]*>none</td>", page)
    assert "e+12" not in page


# --- JSON and CSV stay whole ---
@pytest.mark.parametrize("argv", [(), ("--set", "batch_size=64", "--estimate")])
def test_json_is_unchanged(cli, argv):
    status, out, _ = cli("eval", "llama-3-70b", "tpu-v5e", *argv, "--format", "json")
    assert status == 0
    data = json.loads(out)
    sets = {a.split("=")[0]: a.split("=")[1] for a in argv if "=" in a}
    api = symroof.evaluate("llama-3-70b", "tpu-v5e", mode="estimate" if "--estimate" in argv else "bound",
                           **sets).to_dict()
    assert set(data) == set(api) | {"notes"}
    assert set(data["quantities"]) == set(api["quantities"])
    for name, q in api["quantities"].items():
        assert set(data["quantities"][name]) == set(q), name
        assert data["quantities"][name]["value"] == q["value"], name


def test_csv_is_unchanged(cli):
    status, out, _ = cli("eval", "llama-3-70b", "tpu-v5e", "--format", "csv")
    assert status == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["name", "value", "unit", "kind", "source"]
    r = ev()
    assert [row[0] for row in rows[1:]] == r.names()
    by = {row[0]: row for row in rows[1:]}
    assert float(by["hbm_bandwidth"][1]) == pytest.approx(r.magnitude("hbm_bandwidth"), rel=1e-5)
    assert by["hbm_bandwidth"][2] == "byte / chip / second"  # the declared unit, as before
    assert float(by["max_num_seqs"][1]) == 1e12


# --- the same renderer for plan and serve ---
def test_plan_and_serve_tables_use_the_renderer(cli):
    status, out, err = cli("plan", "llama-3-70b", "h100", "--set", "n_chips=8")
    assert status == 0, err
    assert re.search(r"^  monthly_cost\s+\$\d{1,3}(,\d{3})+/month\s+\$\d{1,3}(,\d{3})+/month$", out, re.M)
    assert re.search(r"^  cost_per_million_output_tokens\s+\$\d+\.\d\d/Mtok\s+\$\d+\.\d\d/Mtok$", out, re.M)
    table = out.split("assumptions:")[0]  # the runners-up below are the search's sentences
    assert "e+0" not in table and "USD/month" not in table
    status, out, err = cli("serve", "llama-3.1-8b", "h100", "--input", "1024", "--output", "256", "--concurrency",
                           "8")
    assert status == 0, err
    assert re.search(r"^  max_num_seqs\s+none\s+1,024 seq$", out, re.M)  # bound: no cap; vLLM's default 1,024
    assert re.search(r"^  ttft\s+\d+(\.\d+)? ms\s+\d+(\.\d+)? ms$", out, re.M)
