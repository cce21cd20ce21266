"""Issue 31, item 6: the serving figure and the plan frontier, read from the figure's own data (the plotly JSON the
page carries) and rendered in headless Chromium.

The figure's data is read back from the written HTML page, as a browser gets it; what it must show is checked
against the public API (symroof.serve, symroof.plan) and the inputs given, never against the plotting code.
"""

from __future__ import annotations

import base64
import html as htmltext
import json
import os
import re
import shutil
import subprocess

import numpy
import pytest

import symroof

pytest.importorskip("plotly")

SERVING = ("llama-3.1-8b", "h100", 1024, 1024)  # the example workload: 1,024 tokens in, 1,024 out
#: A benchmark's concurrency sweep, 1 to 1,024 users (the points the figure must label).
SWEEP = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
#: The plan frontier's inputs: traffic and targets given explicitly, so the expected lines come from them.
PLAN_ARGS = (
    "llama-3-70b",
    "h100",
    "--rate",
    "10/s",
    "--input",
    "4096",
    "--output-tokens",
    "256",
    "--ttft",
    "3s",
    "--tpot",
    "20ms",
)
PLAN_SETTINGS = {
    "request_rate": "10 sequence/s",
    "input_length": "4096 token/sequence",
    "output_length": "256 token/sequence",
    "ttft_target": "3 s",
    "target_step_time": "20 ms",
}


def _plain(value):
    """plotly writes numeric arrays as typed binary (``{"dtype": "f8", "bdata": base64}``): read them as lists."""
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:
        array = numpy.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        if shape:
            array = array.reshape([int(n) for n in str(shape).split(",")])
        return array.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def figure_json(page: str) -> dict:
    """The plotly figure (data and layout) a page draws: the arguments of its Plotly.newPlot call."""
    start = page.index("Plotly.newPlot(")
    decoder = json.JSONDecoder(object_hook=_plain)
    rest = page[page.index("[", start) :]
    data, end = decoder.raw_decode(rest)
    layout, _ = decoder.raw_decode(rest[end:].lstrip(" \n,"))
    return {"data": data, "layout": layout}


def colour(trace: dict) -> str:
    """The colour a trace is drawn in; its marker and line must agree, or the legend's swatch is not the trace."""
    marker, line = trace.get("marker", {}).get("color"), trace.get("line", {}).get("color")
    assert marker is None or line is None or marker == line, trace["name"]
    return marker or line


def legend_matches_traces(fig: dict) -> dict[str, str]:
    """Every trace is named; each legend entry names one group; every trace not in the legend (the second panel's)
    belongs to a group the legend names, in the legend entry's own colour. Returns legend name -> colour."""
    shown = [t for t in fig["data"] if t.get("showlegend", True)]
    names = [t["name"] for t in shown]
    assert len(names) == len(set(names)), names
    groups = {t.get("legendgroup", t["name"]): t for t in shown}
    assert len(groups) == len(shown)
    for t in fig["data"]:
        assert t.get("name"), t
        entry = groups[t.get("legendgroup", t["name"])]  # a KeyError: a trace the legend does not name
        assert colour(t) == colour(entry), (t["name"], colour(t), colour(entry))
    return {t["name"]: colour(t) for t in shown}


@pytest.fixture(scope="module")
def serving_page(tmp_path_factory):
    from symroof.cli import main

    path = tmp_path_factory.mktemp("serving") / "serving.html"
    model, chip, isl, osl = SERVING
    assert main(["plot", "serving", model, chip, "--input", str(isl), "--osl", str(osl), "-o", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def frontier_page(tmp_path_factory):
    from symroof.cli import main

    path = tmp_path_factory.mktemp("frontier") / "frontier.html"
    assert main(["plot", "frontier", *PLAN_ARGS, "-o", str(path)]) == 0
    return path


def _expand(label: str) -> list[int]:
    """``256-1024`` labels every sweep value from 256 to 1,024 (points that coincide past a cap)."""
    low, _, high = label.partition("-")
    return [c for c in SWEEP if int(low) <= c <= int(high or low)]


def test_serving_figure_has_the_benchmark_axes_labels_and_matching_colours(serving_page):
    fig = figure_json(serving_page.read_text())
    legend = legend_matches_traces(fig)
    model, chip, isl, osl = SERVING
    served = {n: symroof.serve(model, chip, isl, osl, concurrency=n) for n in SWEEP}
    curves = [t for t in fig["data"] if "lines" in t["mode"]]
    assert len(curves) == 4  # bound and estimate, in each panel
    panels = {(t["legendgroup"], t.get("xaxis", "x")): t for t in curves}
    assert set(panels) == {(m, x) for m in ("bound", "estimate") for x in ("x", "x2")}
    assert colour(panels["bound", "x"]) != colour(panels["estimate", "x"])
    for (mode, axis), t in panels.items():
        # one point per concurrency, each labelled (points that coincide share one label)
        assert [int(c[0]) for c in t["customdata"]] == SWEEP
        assert sorted(c for label in t["text"] if label for c in _expand(label)) == SWEEP
        ev = {n: served[n].evaluations[mode] for n in SWEEP}
        assert t["y"] == pytest.approx([ev[n].magnitude("output_throughput_per_chip") for n in SWEEP], rel=1e-9)
        if axis == "x":  # tokens/s per user is 1 / ITL
            assert t["x"] == pytest.approx([1000 / ev[n].value("itl").to("ms").magnitude for n in SWEEP], rel=1e-9)
        else:
            assert t["x"] == pytest.approx([ev[n].value("ttft").to("s").magnitude for n in SWEEP], rel=1e-9)
    assert "tokens/s per user" in fig["layout"]["xaxis"]["title"]["text"]
    assert "tokens/s per chip" in fig["layout"]["yaxis"]["title"]["text"]
    assert "time to first token" in fig["layout"]["xaxis2"]["title"]["text"]
    # the caps: where the running batch is held below the concurrency, a legend entry names the cap and its value
    for mode in ("bound", "estimate"):
        capped = [n for n in SWEEP if served[n].evaluations[mode].magnitude("running_batch") < n - 1e-9]
        assert capped, f"{mode}: no cap binds up to 1,024 users"
        pool = served[SWEEP[-1]].evaluations[mode].magnitude("kv_pool_sequences")
        caps = [t for t in fig["data"] if t["mode"] == "markers" and t["legendgroup"].startswith(mode)]
        assert sorted(int(c[0]) for t in caps for c in t["customdata"]) == sorted(capped * 2)  # in both panels
        names = {t["name"] for t in caps if t.get("showlegend", True)}
        assert names and all(n in legend for n in names)
        assert f"{mode}: KV pool binds ({pool:,.0f} requests)" in names  # 8B on 80 GB: the KV pool binds


def test_plan_frontier_marks_the_chosen_plan_the_targets_and_the_traffic(frontier_page):
    fig = figure_json(frontier_page.read_text())
    legend_matches_traces(fig)
    chosen = symroof.plan("llama-3-70b", "h100", PLAN_SETTINGS)  # what symroof plan chooses, same inputs
    stars = [t for t in fig["data"] if t["marker"].get("symbol") == "star"]
    assert len(stars) == 2  # in both panels
    star = next(t for t in stars if t.get("showlegend", True))
    assert star["x"] == pytest.approx([chosen.magnitude("plan_tokens_per_second_per_user")], rel=1e-9)
    assert star["y"] == pytest.approx(
        [chosen.value("cost_per_million_output_tokens").to("USD/megatoken").magnitude], rel=1e-9
    )
    other = next(t for t in stars if not t.get("showlegend", True))
    assert other["y"] == pytest.approx([chosen.value("ttft_at_percentile").to("s").magnitude], rel=1e-9)
    chips = f"{chosen.magnitude('n_chips'):g} chips"
    assert (
        "chosen plan" in star["name"]
        and chips in star["name"]
        and f"batch {chosen.magnitude('plan_batch_size'):,.0f}" in star["name"]
    )
    # the targets as lines: TPOT 20 ms is 50 tokens/s per user (vertical, both panels); TTFT 3 s (horizontal)
    tpot = [t for t in fig["data"] if t["name"].startswith("TPOT target")]
    assert len(tpot) == 2 and all(t["x"] == pytest.approx([50, 50]) for t in tpot)
    (ttft,) = [t for t in fig["data"] if t["name"].startswith("TTFT p")]
    assert ttft["y"] == pytest.approx([3, 3]) and ttft["xaxis"] == "x2" and "3 s" in ttft["name"]
    # the traffic in the title
    title = fig["layout"]["title"]["text"]
    assert "10 requests/s" in title and "4,096 tokens in" in title and "256 out" in title
    # the frontier's points meet the TTFT target (the frontier keeps the fewest prefill replicas that do)
    points = [t for t in fig["data"] if t["name"].startswith("frontier:") and t.get("xaxis") == "x2"]
    assert points and all(y <= 3 for t in points for y in t["y"])


def test_a_frontier_where_no_plan_meets_the_targets_says_so(tmp_path, cli):
    """At a 1 ms TPOT no configuration of LLaMA 3-70B on H100 meets the target (symroof plan refuses it): the
    frontier is still drawn, every point marked as missing, no plan marked, and the title says why."""
    status, _, err = cli("plan", "llama-3-70b", "h100", "--rate", "10/s", "--tpot", "1ms")
    assert status == 2 and "no configuration" in err
    out = tmp_path / "f.html"
    status, _, err = cli("plot", "frontier", "llama-3-70b", "h100", "--rate", "10/s", "--tpot", "1ms", "-o", str(out))
    assert status == 0, err
    fig = figure_json(out.read_text())
    legend_matches_traces(fig)
    names = {t["name"] for t in fig["data"]}
    assert not any(n.startswith("chosen plan") for n in names)
    assert "frontier: misses the per-token target" in names and "frontier: meets every target" not in names
    assert "no plan chosen: no configuration" in fig["layout"]["title"]["text"]
    assert "TPOT target 1 ms (1,000 tokens/s per user)" in names


def test_the_static_figures_draw_too(tmp_path, cli):
    serving = ["serving", SERVING[0], SERVING[1], "--input", "1024", "--osl", "1024"]
    for argv in (serving, ["frontier", *PLAN_ARGS]):
        out = tmp_path / f"{argv[0]}.png"
        status, _, err = cli("plot", *argv, "-o", str(out))
        assert status == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", err


def chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


@pytest.mark.slow
@pytest.mark.parametrize(
    "which, legend",
    [
        ("serving", ["bound (the chapter's idealised engine)", "estimate (vllm, calibrated)", "KV pool binds"]),
        ("frontier", ["chosen plan (symroof plan)", "TPOT target 20 ms", "TTFT p99 target 3 s"]),
    ],
)
def test_the_pages_render_in_headless_chromium(request, tmp_path, which, legend):
    """The page's scripts run and draw the plot: the DOM after them holds plotly's SVG and the legend's text, and
    a screenshot has the traces' colours in it."""
    browser = chromium()
    if browser is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing in CI: .ci/run must install chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    path = request.getfixturevalue(f"{which}_page")
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=20000",
    ]
    page = path.read_text()
    assert '<svg class="main-svg"' not in page  # before the scripts run there is no plot
    dom = subprocess.run([*flags, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert '<svg class="main-svg"' in dom
    shown = [htmltext.unescape(t) for t in re.findall(r'class="legendtext"[^>]*>([^<]*)<', dom)]
    for words in legend:
        assert any(words in t for t in shown), (words, shown)
    fig = figure_json(page)
    assert len(shown) == sum(t.get("showlegend", True) for t in fig["data"])  # one entry per named trace
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*flags, "--window-size=1400,900", f"--screenshot={shot}", path.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    image = pytest.importorskip("matplotlib.image").imread(shot)
    pixels = {tuple(round(float(c) * 255) for c in p[:3]) for p in image.reshape(-1, image.shape[-1])}
    want = {"#1f77b4"} | ({"#ff7f0e"} if which == "serving" else {"#d62728"})
    for hexa in want:  # the bound's blue, and the estimate's orange or the chosen plan's red
        rgb = tuple(int(hexa[i : i + 2], 16) for i in (1, 3, 5))
        assert rgb in pixels, (which, hexa)


def test_the_plan_frontier_takes_a_ttft_percentile_as_plan_does(tmp_path, cli):
    """Issue 31: ``plot frontier --ttft-p95 1s`` was refused with argparse's usage text; it plans at the 95th
    percentile, as ``symroof plan --ttft-p95 1s`` does (the star is that plan's TTFT at p95), and a percentile
    outside (0, 100) is one line."""
    out = tmp_path / "p95.html"
    argv = ("llama-3-70b", "h100", "--rate", "10/s", "--ttft-p95", "1s")
    status, _, err = cli("plot", "frontier", *argv, "-o", str(out))
    assert status == 0, err
    fig = figure_json(out.read_text())
    (ttft,) = [t for t in fig["data"] if t["name"].startswith("TTFT p")]
    assert ttft["name"].startswith("TTFT p95") and ttft["y"] == pytest.approx([1, 1])
    settings = {"request_rate": "10 sequence/s", "ttft_target": "1 s", "ttft_percentile": 95}
    chosen = symroof.plan("llama-3-70b", "h100", settings)
    star = next(t for t in fig["data"] if t["marker"].get("symbol") == "star" and not t.get("showlegend", True))
    assert star["y"] == pytest.approx([chosen.value("ttft_at_percentile").to("s").magnitude], rel=1e-9)
    status, _, err = cli("plot", "frontier", *argv[:-2], "--ttft-p150", "1s", "-o", str(tmp_path / "bad.html"))
    assert status == 2 and "between 0 and 100" in err and err.count("\n") == 1
    assert not (tmp_path / "bad.html").exists()
