"""Every command's arguments (argparse only), so that ``--help`` and usage errors need nothing else.

Each command names its handler as ``"module:function"`` in this package; the
handler's module is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

from ..core.version import __version__
from ..measure import add_arguments as measure_arguments

EPILOG = """examples:
  symroof eval llama-3-70b tpu-v5e
  symroof eval llama-3-70b tpu-v5e --set batch_size=32 --set weight_dtype=int8 --set "hbm_bandwidth=820 GB/s"
  symroof explain step_time
  symroof solve critical_batch_size tpu-v5e
  symroof sensitivity cost_per_million_tokens llama-3-70b tpu-v5e
  symroof export llama-3-70b tpu-v5e --template finance --set chip_price=1.0
  symroof sweep llama-3-70b tpu-v5e --vary batch_size=1:512 --vary context_length=2048,8192,32768
  symroof plot frontier -o frontier.png
  symroof list hardware
  symroof import-model config.json -o my-model.toml && symroof eval my-model.toml h100
  symroof eval llama-3-70b h100 --set n_chips=8 --estimate
  symroof measure out/ && symroof calibrate out/ --hardware h100 -o h100.toml
  symroof serve llama-3.3-70b h100 --input 1024 --output 1024 --concurrency 64 --engine vllm --set n_chips=8
  symroof plan llama-3-70b h200 --rate 2000/s --input 3000 --output 500 --ttft-p99 2s --tpot 33ms --set n_chips=8
"""
SET_HELP = ("set an input or pin a derived quantity; a value may carry a unit ('hbm_bandwidth=820 GB/s'); "
            "dtypes by name (weight_dtype=int8). Repeatable.")
PERCENTILE = re.compile(r"^--(ttft|tpot)-p(\d+(?:\.\d+)?)(?:=(.*))?$")


def expand_percentile(argv: Sequence[str]) -> list[str]:
    """``--ttft-p99 2s`` (any percentile; ``--tpot-pNN`` too) as ``--ttft-percentile 99 --ttft 2s``, which argparse
    can parse (``--ttft-p99=-2s`` as ``--ttft=-2s``, so that a value starting with a minus stays a value)."""
    out: list[str] = []
    for item in argv:
        m = PERCENTILE.match(item)
        if m is None:
            out.append(item)
            continue
        out += [f"--{m.group(1)}-percentile", m.group(2)]
        out += [f"--{m.group(1)}={m.group(3)}"] if m.group(3) is not None else [f"--{m.group(1)}"]
    return out


NEGATIVE = re.compile(r"^-(?:\d|\.\d|inf|nan)", re.IGNORECASE)


def _value_options(parser: argparse.ArgumentParser) -> set[str]:
    """The option strings of ``parser`` and its subcommands that take one value."""
    out: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out |= _value_options(sub)
        elif action.option_strings and action.nargs is None:
            out.update(action.option_strings)
    return out


def keep_negative_values(argv: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """``--rate -1/s`` as ``--rate=-1/s``: argparse reads a value starting with a minus (other than a plain
    number) as an unknown option and prints its usage; joined, the command refuses the value in one sentence."""
    takes, out, items = _value_options(parser), [], list(argv)
    i = 0
    while i < len(items):
        if items[i] in takes and i + 1 < len(items) and NEGATIVE.match(items[i + 1]):
            out.append(f"{items[i]}={items[i + 1]}")
            i += 2
            continue
        out.append(items[i])
        i += 1
    return out


class _InOrder(argparse.Action):
    """Appends (option, value) to one list, so that each percentile stays beside the limit it belongs to."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), (option_string, values)])


def add_set(parser: argparse.ArgumentParser) -> None:
    """``--set NAME=VALUE``, ``--estimate`` and ``--calibration``: what every command that evaluates shares."""
    parser.add_argument("--set", action="append", metavar="NAME=VALUE", help=SET_HELP)
    parser.add_argument("--estimate", action="store_true",
                        help="add the chip's calibrated efficiencies and overheads (its shipped calibration, or "
                             "generic factors, said so) to the roofline")
    parser.add_argument("--calibration", metavar="FILE",
                        help="a calibration from symroof calibrate (implies --estimate)")


def _pair(p: argparse.ArgumentParser, optional: bool = False) -> None:
    nargs = "?" if optional else None
    p.add_argument("model", metavar="MODEL", nargs=nargs, help="catalog id (llama-3-70b) or path to a model TOML")
    p.add_argument("hardware", metavar="HARDWARE", nargs=nargs,
                   help="catalog id (tpu-v5e) or path to a hardware TOML")


def _evaluation(sub) -> None:
    p = sub.add_parser("list", help="list catalog models, hardware, or every quantity")
    p.add_argument("what", choices=["models", "hardware", "quantities"])
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func="evaluation:cmd_list")

    p = sub.add_parser("eval", help="evaluate every quantity for a model on a chip",
                       description="Evaluate every quantity for MODEL on HARDWARE (catalog ids or TOML paths).")
    _pair(p)
    add_set(p)
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.add_argument("--all", action="store_true",
                   help="show every quantity with its formula or source (the table shows the chapter's answers "
                        "by default; JSON and CSV always hold every quantity)")
    p.add_argument("--engine", metavar="ENGINE",
                   help="with --estimate: the engine profile the serving quantities use (vllm, sglang, trtllm or "
                        "FILE.toml; the one symroof serve and plan price with), as the workbook's estimate column")
    p.set_defaults(func="evaluation:cmd_eval")

    p = sub.add_parser("explain", help="show a quantity's formula, unit, source and dependencies")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func="evaluation:cmd_explain")


def _thresholds(sub) -> None:
    p = sub.add_parser("solve", help="show a threshold's equation, closed form, regime and value",
                       description="Show how a threshold is solved; with MODEL HARDWARE (or one of them when "
                                   "the threshold does not depend on the other) also its value.")
    p.add_argument("name", metavar="NAME", help="a solved threshold, e.g. critical_batch_size")
    _pair(p, optional=True)
    add_set(p)
    p.add_argument("--format", choices=["text", "latex", "json"], default="text")
    p.set_defaults(func="thresholds:cmd_solve")

    p = sub.add_parser("sensitivity", help="elasticities of a quantity and the active bound",
                       description="Elasticities d ln y / d ln x of QUANTITY with respect to every input, "
                                   "largest first, and which branch of each max() is active.")
    p.add_argument("quantity", metavar="QUANTITY")
    _pair(p)
    add_set(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func="sensitivities:cmd_sensitivity")


def _workbooks(sub) -> None:
    p = sub.add_parser("export", help="write a live-formula Excel workbook",
                       description="Write a workbook whose cells are live formulas over one defined name per "
                                   "quantity; it recomputes in Excel or LibreOffice exactly as symroof does.")
    _pair(p, optional=True)
    p.add_argument("--template", help="engineering (the default), finance, or a TOML path; with --compare the "
                                      "comparison template (its own layout) or a TOML path of that kind")
    add_set(p)
    p.add_argument("-o", "--output", metavar="PATH",
                   help="the file to write (default MODEL_HARDWARE_TEMPLATE.xlsx); with --all, the folder")
    p.add_argument("--all", action="store_true", help="export the catalog's featured pairs into sheets/")
    p.add_argument("--force", action="store_true",
                   help="overwrite a workbook that differs from what symroof wrote (edited inputs, added sheets or "
                        "notes, overwritten formulas)")
    p.add_argument("--keep-inputs", action="store_true",
                   help="carry the edited input cells of the existing workbook into the new one (and keep "
                        "protecting them on later exports)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--compare", action="store_true",
                   help="MODEL CHIP,CHIP,...: the chips side by side at the same traffic and service level (the "
                        "comparison template; the plan's --set options apply to every chip)")
    p.set_defaults(func="workbooks:cmd_export")


def _sweeps(sub) -> None:
    p = sub.add_parser("sweep", help="evaluate quantities over a grid of inputs (vectorised)",
                       description="Evaluate quantities over every combination of the --vary values, compiled "
                                   "once to numpy. MODEL and HARDWARE may be comma-separated lists of ids. The "
                                   "slice (n_chips) is held at the scenario's smallest slice unless varied or set.")
    _pair(p)
    p.add_argument("--vary", action="append", metavar="NAME=VALUES",
                   help="values to sweep: a comma list and/or inclusive ranges a:b[:step], e.g. batch_size=1:512, "
                        "context_length=2048,8192,32768, weight_dtype=bf16,int8. Repeatable, once per name.")
    add_set(p)
    p.add_argument("--quantities", metavar="A,B,...", help="what to report (default: step time, its terms, "
                                                           "tokens/s, tokens/s/chip, cost per million tokens)")
    p.add_argument("--drop-unfit", action="store_true", help="drop points whose parameters and KV exceed HBM")
    p.add_argument("--engine", metavar="ENGINE", help="an engine profile (vllm, sglang, trtllm) for the serving "
                                                      "quantities (ttft, itl, output_throughput_per_chip, ...); "
                                                      "vary concurrency or request_rate with --set workload=rate")
    p.add_argument("--pareto", action="store_true",
                   help="keep only the latency-throughput frontier (per value of every other varied input)")
    p.add_argument("--format", choices=["csv", "json", "table"], default="csv")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE instead of standard output (CSV is written in chunks; a sweep has at most "
                        "1,000,000 points)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func="sweeps:cmd_sweep")

    p = sub.add_parser("plot", help="draw the seed's figures, the serving figure or the plan frontier",
                       description="Draw the latency-throughput frontier or the decode latency breakdown, one "
                                   "curve (or panel) per context length. Without MODEL and HARDWARE it draws the "
                                   "seed's figure: LLaMA 3-70B on a TPU v5e 4x4, int8 weights and KV, bf16 FLOPs, "
                                   "8.2e11 byte/s. With them, it uses that chip's own catalog values. plot serving "
                                   "draws output tokens/s per chip against tokens/s per user (1 / ITL) and against "
                                   "TTFT, one point per concurrency (1 to 1,024), bound and estimate, the engine caps "
                                   "marked. plot frontier --rate R (or --plan) draws the plan's cost frontier with "
                                   "the plan symroof plan chooses, the TTFT and TPOT targets and the traffic.")
    p.add_argument("kind", choices=["frontier", "breakdown", "serving"])
    _pair(p, optional=True)
    add_set(p)
    p.add_argument("--contexts", metavar="A,B,...", help="context lengths (default 2048 to 65536)")
    p.add_argument("-o", "--output", metavar="FILE", required=True, help=".png, .svg or .html (interactive)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.add_argument("--input", metavar="N", help="serving: input tokens per request (default 1024)")
    p.add_argument("--output-tokens", "--osl", dest="output_tokens", metavar="N",
                   help="serving: output tokens per request (default 1024)")
    p.add_argument("--engine", metavar="ENGINE", help="serving: the engine profile (default vllm)")
    p.add_argument("--plan", action="store_true",
                   help="frontier: the configuration search's cost frontier (symroof plan --frontier) instead of "
                        "the seed's figure; --rate, --ttft and --tpot imply it")
    p.add_argument("--rate", help="plan frontier: requests per second, like 2000/s")
    p.add_argument("--ttft", help="plan frontier: time-to-first-token target with its unit, like 2s")
    p.add_argument("--ttft-percentile", dest="ttft_percentile", metavar="P",
                   help="plan frontier: the percentile the TTFT target holds at (default 99); --ttft-p99 2s sets both")
    p.add_argument("--tpot", help="plan frontier: time per output token target with its unit, like 33ms")
    p.add_argument("--tpot-percentile", dest="tpot_percentile", metavar="P", action="append",
                   help=argparse.SUPPRESS)  # --tpot-pNN: refused in one line (a plan's TPOT is a mean)
    p.set_defaults(func="sweeps:cmd_plot")


def _models(sub) -> None:
    p = sub.add_parser("import-model", help="write a catalog model from a Hugging Face config.json",
                       description="Read a local Hugging Face config.json (Llama, Mistral/Mixtral, Qwen2/Qwen3 and "
                                   "Qwen3-MoE, DeepSeek-V2/V3, gpt-oss, Gemma 2/3, Llama 4) and write a catalog "
                                   "TOML with a source line per value. Nothing is downloaded.")
    p.add_argument("config", metavar="CONFIG.json")
    p.add_argument("-o", "--output", metavar="MODEL.toml", help="write here (default: standard output)")
    p.add_argument("--id", help="the model's id (default: from the config's name or folder)")
    p.add_argument("--name", help="a display name (default: the id)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(func="models:cmd_import_model")


def _estimates(sub) -> None:
    p = sub.add_parser("measure", help="time this GPU's roofline ingredients (needs PyTorch)",
                       description="Microbenchmark the GPU (HBM streaming, decode matmuls, decode attention, "
                                   "prefill) into the CSV files symroof calibrate fits. Needs PyTorch: "
                                   'pip install "symroof[measure]".')
    measure_arguments(p)
    p.set_defaults(func="estimates:cmd_measure")

    p = sub.add_parser("calibrate", help="fit a chip's estimate factors from measured kernels",
                       description="Fit the estimate factors (streaming and FLOP efficiencies, kernel latencies, "
                                   "prefill MFU) of HARDWARE from a folder of microbenchmark CSVs (ceilings.csv, "
                                   "matmul.csv, attention.csv, optional prefill.csv), on symroof's declared "
                                   "formulas; print them with the residual error per kernel family.")
    p.add_argument("folder", metavar="DIR")
    p.add_argument("--hardware", metavar="CHIP", required=True, help="the catalog chip the data was measured on")
    p.add_argument("--attention-kernel", choices=["sdpa", "bmm"], default="sdpa",
                   help="which attention rows fit kv_stream_efficiency: sdpa (a fused kernel, as serving engines "
                        "use; the default) or bmm (two batched matmuls)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the calibration TOML here")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.add_argument("--rows", action="store_true", help="show every row's measured and predicted time")
    p.set_defaults(func="estimates:cmd_calibrate")

    p = sub.add_parser("validate", help="compare predictions with published serving measurements",
                       description="Predict each published measurement of the validation dataset in bound and "
                                   "estimate mode (the shipped engine profiles); print measured/predicted per "
                                   "point and the geometric-mean error. --fit adds the fitted CPU times and the "
                                   "held-out error.")
    p.add_argument("--data", metavar="CSV", help="a dataset of the same columns (default: symroof's own)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.add_argument("--summary", action="store_true", help="only the error summary")
    fit = p.add_mutually_exclusive_group()
    fit.add_argument("--fit", dest="fit", action="store_true",
                     help="also fit the engines' CPU times on the points and predict each source held out (with "
                          "CPU times fitted on the other sources); about a minute on symroof's own dataset")
    fit.add_argument("--no-fit", dest="fit", action="store_false",
                     help="predict with the shipped engine profiles only (the default; scores a held-back set)")
    p.add_argument("--replay", action="store_true",
                   help="also replay each point whose source ran a benchmark (closed loop, open loop, all at once) "
                        "step by step, with the shipped profile and, with --fit, held out; about 50 ms a point: "
                        "75 s on symroof's own dataset on 2 cores (20 s without), 3 to 6 min with --fit (each "
                        "point replayed again with its held-out CPU times)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func="estimates:cmd_validate")


def _plans(sub) -> None:
    p = sub.add_parser(
        "plan", help="fleets, dollars a month and megawatts for a traffic profile",
        description="Plan serving a traffic profile: the decode batch that meets the per-token target, decode and "
                    "prefill fleets (the fewest prefill replicas whose queue meets the TTFT percentile), chips, "
                    "dollars a month, megawatts, joules per token and cost per million input and output tokens; "
                    "the chapter's bound and the calibrated estimate side by side.",
        epilog="example: symroof plan llama-3-70b h200 --rate 2000/s --input 3000 --output 500 --ttft-p99 2s "
               "--tpot 33ms --set n_chips=8 --compare h100,b200")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("hardware", metavar="CHIP")
    p.add_argument("--rate", help="requests per second, like 2000/s (default: target_request_rate)")
    p.add_argument("--input", help="input (prompt) tokens per request")
    p.add_argument("--output", help="output tokens per request")
    p.add_argument("--ttft", action="append", help="time-to-first-token target with its unit, like 2s (once)")
    p.add_argument("--ttft-percentile", dest="ttft_percentile", metavar="P", action="append",
                   help="the percentile the TTFT target holds at (default 99); --ttft-p99 2s sets both (once)")
    p.add_argument("--tpot", action="append", help="mean time per output token target with its unit, like 33ms "
                                                    "(sets target_step_time; once)")
    p.add_argument("--tpot-percentile", dest="tpot_percentile", metavar="P", action="append",
                   help="the target holds at this percentile of each request's TPOT, checked by the replay (a "
                        "colocated plan lowers its mean until it does); --tpot-p99 33ms sets both (once)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--own", action="store_true", help="own the chips (capital, power, hosting)")
    how.add_argument("--rent", metavar="KIND", help="rent the chips (the default) at the catalog's on-demand, "
                                                    "reserved-1y, reserved-3y or spot price")
    p.add_argument("--compare", metavar="CHIP,CHIP", help="rank these chips (and CHIP) by cost per million tokens, "
                                                         "each at its own best layout")
    p.add_argument("--allow-dtype", dest="allow_dtype", metavar="D,D",
                   help="let the search store weights in these dtypes too, like fp8,fp4 (default: the model's own)")
    p.add_argument("--frontier", action="store_true",
                   help="the Pareto frontier of cost per million output tokens against output tokens/s per user "
                        "over every layout and batch")
    p.add_argument("--no-search", dest="no_search", action="store_true",
                   help="plan the default slice as given, without searching layouts")
    p.add_argument("--format", choices=["table", "json"], default="table")
    add_set(p)
    p.set_defaults(func="plans:cmd_plan")


def _serving(sub) -> None:
    p = sub.add_parser(
        "serve", help="what a serving engine delivers for a workload: TTFT, ITL, throughput per chip",
        description="Predict what a serving engine (vLLM, SGLang, TensorRT-LLM) delivers for a workload on MODEL "
                    "and CHIP: time to first token, inter-token latency, end-to-end latency, throughput per chip "
                    "and the batch the engine runs, with the cap that binds. The chapter's idealised engine "
                    "(bound) and the engine profile with the chip's calibration (estimate) side by side.",
        epilog="examples:\n  symroof serve llama-3.3-70b h100 --input 1024 --output 1024 --concurrency 64 "
               "--set n_chips=8\n  symroof serve deepseek-r1 h200 --input 1000 --output 1000 --concurrency max "
               "--engine sglang --set attention_data_parallel=8\n  symroof serve llama-3.1-8b h100 --input 3000 "
               "--output 500 --rate 5/s --estimate --format json\n  symroof serve llama-3.1-8b h100 --input 1024 "
               "--output 256 --max-rate --ttft-p99 500ms --tpot-p99 20ms",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _pair(p)
    p.add_argument("--input", required=True, metavar="N", help="input (prompt) tokens per request")
    p.add_argument("--output", required=True, metavar="N", help="output tokens per request")
    how = p.add_mutually_exclusive_group()  # one of them, or --max-rate (checked by the command)
    how.add_argument("--concurrency", metavar="N|max",
                     help="a closed loop of N users, each sending its next request when the last ends; max: "
                          "as many as the engine admits (offline, maximum load)")
    how.add_argument("--rate", metavar="R/s", help="an open loop of Poisson arrivals, like 10/s or 600/min")
    how.add_argument("--batch", metavar="N", help="one static batch: prefill all N, then decode them together")
    p.add_argument("--engine", default="vllm", metavar="ENGINE",
                   help="the engine profile: vllm (default), sglang, trtllm, or a profile TOML")
    bench = p.add_argument_group("replay (a benchmark run step by step over the same engine step)")
    bench.add_argument("--replay", action="store_true",
                       help="also replay the workload as a benchmark, iteration by iteration: mean, p50, p90 and "
                            "p99 of TTFT, ITL and end-to-end latency, and the run's throughput")
    bench.add_argument("--requests", metavar="N", help="requests in the replayed run (default: 1000, or ten per "
                                                       "user of a closed loop, or the rows of --lengths)")
    bench.add_argument("--spread", metavar="R", help="lengths uniform over input and output x (1 +- R), as vLLM's "
                                                     "--random-range-ratio (default 0: fixed)")
    bench.add_argument("--lengths", metavar="CSV", help="each request's lengths: a CSV with an input and an output "
                                                        "column (input_tokens, output_tokens, ...)")
    bench.add_argument("--seed", metavar="N", help="seed of the Poisson arrivals and the spread (default 0)")
    bench.add_argument("--arrivals", choices=["poisson", "fixed"], default=None,
                       help="an open loop's arrivals: poisson (default) or a fixed interval")
    limits = p.add_argument_group(
        "limits (the highest request rate meeting percentile limits, by the replay)",
        "--max-rate with --ttft-pNN T and/or --tpot-pNN T (any percentile NN in (0, 100), like --ttft-p99 2s\n"
        "--tpot-p90 50ms; TPOT is vLLM's per request): the highest Poisson rate whose replayed percentiles\n"
        "meet every limit, by bisection over replays (to 1%) from the closed form's saturation rate")
    limits.add_argument("--max-rate", dest="max_rate", action="store_true",
                        help="search the highest open-loop request rate meeting every --ttft-pNN and --tpot-pNN "
                             "limit (instead of --concurrency, --rate or --batch)")
    for metric, what in (("ttft", "time to first token"), ("tpot", "time per output token")):
        limits.add_argument(f"--{metric}", dest="limits", action=_InOrder, metavar="T",
                            help=f"a {what} limit with its unit at --{metric}-percentile; --{metric}-p99 T says both")
        limits.add_argument(f"--{metric}-percentile", dest="limits", action=_InOrder, metavar="P",
                            help=f"the percentile the next --{metric} limit holds at")
    add_set(p)
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    p.set_defaults(func="serving:cmd_serve")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symroof", description="Symbolic roofline models of LLM serving: dense and mixture-of-experts models on "
                                    "TPUs and GPUs.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"symroof {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in (_evaluation, _thresholds, _workbooks, _sweeps, _models, _estimates, _plans, _serving):
        group(sub)
    return parser
