"""Communication: the layout of a replica, collectives over its networks, and what a step pays for them.

A collective over n chips, each contributing M bytes, costs (alpha-beta) a
number of latency steps of alpha plus the bytes each chip moves over its
bandwidth W (one direction). Within the scale-up domain (n <= D) the topology
decides the algorithm; beyond it the scale-out network carries a ring:

============  ======================  =========================  ======================  =============
topology      all-reduce              all-gather, reduce-scatter all-to-all              point-to-point
============  ======================  =========================  ======================  =============
switch        2a + 2(n-1)/n M/W       a + (n-1)/n M/W            a + (n-1)/n M/W         a + M/W
mesh          as switch, with a group of n using n-1 of a chip's D-1 links: W (n-1)/(D-1)
ring          2(n-1)a + 2(n-1)/n M/W  (n-1)a + (n-1)/n M/W       (n-1)a + (n-1)/2 M/W    a + M/W
torus         2 x all-gather          A m/2 a + (n-1)/n M/W_A    A m/2 a + m M/(8 A w)   a + M/w
scale-out     ring with a_out, W_out                             a_out + (n-1)/n M/W_out a_out + M/W_out
============  ======================  =========================  ======================  =============

The switch runs the two-shot all-reduce (a reduce-scatter then an all-gather,
each one step, as NVSwitch lets every pair talk at full bandwidth). On a torus
the group is laid over A = ``model_axes`` axes of m = n^(1/A) chips, each a
bidirectional ring with wraparound; w = W / (2 d) is one link (d axes, two
links each) and W_A = A W / d what the A axes carry together. A collective
over one chip costs nothing.

A decode step of tensor-parallel chips all-reduces its activations twice a
layer (after attention and after the MLP); an expert-parallel MoE layer swaps
the MLP's all-reduce for two all-to-alls (dispatch and combine) of the routed
tokens; pipeline stages hand the activations on. Estimate mode adds the part
of that not hidden behind compute to the step time; bound mode, the chapter,
leaves it out (``comm_overlap`` is 1 there).

Pipeline parallelism is modelled for its throughput: weights and KV spread over
all the replica's chips, every stage busy, plus the hand-offs. The extra
latency of one sequence crossing the stages one after another is not modelled.
"""

from __future__ import annotations

import sympy

from ..declare import Group, one, rewrite
from .inputs import (
    SCENARIO,
    activation_bytes_per_value,
    batch_size,
    collective_bytes,
    collective_chips,
    comm_overlap,
    d_model,
    data_parallel,
    expert_parallel,
    model_axes,
    n_chips,
    n_dense_layers,
    n_experts,
    n_experts_per_token,
    n_heads,
    n_layers,
    pipeline_parallel,
    scale_out_bandwidth,
    scale_out_latency,
    scale_up_bandwidth,
    scale_up_domain,
    scale_up_latency,
    scale_up_topology,
    tensor_parallel,
    torus_dims,
)

attention_data_parallel = SCENARIO.input(
    "attention_data_parallel", r"\text{DP}_{\text{attn}}", "", "Data-parallel attention groups of a replica: "
    "each keeps its own sequences' KV and a whole copy of the attention weights, while the experts spread over "
    "every chip (the DeepSeek, Qwen3 and gpt-oss serving layout); 1 splits attention over the tensor-parallel "
    "chips.", "assumption (the serving engine's launch settings)", default=sympy.Integer(1), integer=True,
    plausible=(1, 100_000), label="Attention data-parallel groups")

GROUP = Group("communication", "Communication", requires=())
ALPHA_BETA = "alpha-beta collective model (ring, switch, torus); see symroof/model/communication.py"
KINDS = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "point_to_point")


def _scale_up(kind: str, n: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
    """(latency steps x alpha, seconds per byte) of ``kind`` over n chips of the scale-up network."""
    a, W, D = scale_up_latency, scale_up_bandwidth * one("chip"), scale_up_domain / one("chip")
    A = model_axes
    m = n ** (1 / A)  # chips along each torus axis the group spans
    link = W / (2 * torus_dims)
    share = (n - 1) / n
    steps = {  # switch, mesh, ring, torus: latency steps; then seconds per byte
        "all_reduce": ((2, 2, 2 * (n - 1), A * m),
                       (2 * share / W, 2 * share * (D - 1) / ((n - 1) * W), 2 * share / W,
                        2 * share * torus_dims / (A * W))),
        "all_gather": ((1, 1, n - 1, A * m / 2),
                       (share / W, share * (D - 1) / ((n - 1) * W), share / W, share * torus_dims / (A * W))),
        "all_to_all": ((1, 1, n - 1, A * m / 2),
                       (share / W, share * (D - 1) / ((n - 1) * W), (n - 1) / (2 * W), m / (8 * A * link))),
        "point_to_point": ((1, 1, 1, 1), (1 / W, (D - 1) / W, 1 / W, 1 / link)),
    }
    steps["reduce_scatter"] = steps["all_gather"]
    latency, per_byte = steps[kind]
    topologies = ("switch", "mesh", "ring", "torus")
    return (GROUP.select(scale_up_topology, {t: s * a for t, s in zip(topologies, latency, strict=True)}),
            GROUP.select(scale_up_topology, dict(zip(topologies, per_byte, strict=True))))


def _scale_out(kind: str, n: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
    """The same over the scale-out network: a ring, all-to-all and point-to-point direct through its switches."""
    a, W = scale_out_latency, scale_out_bandwidth * one("chip")
    share = (n - 1) / n
    return {"all_reduce": (2 * (n - 1) * a, 2 * share / W), "all_gather": ((n - 1) * a, share / W),
            "reduce_scatter": ((n - 1) * a, share / W), "all_to_all": (a, share / W),
            "point_to_point": (a, 1 / W)}[kind]


def collective_terms(kind: str, n: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
    """(latency, seconds per byte) of ``kind`` over n chips: 0 for one chip, scale-up within the domain."""
    up, out = _scale_up(kind, n), _scale_out(kind, n)
    D = scale_up_domain / one("chip")
    return tuple(sympy.Piecewise((0, n <= 1), (u, n <= D), (o, True)) for u, o in zip(up, out, strict=True))


def scale_up_collective(kind: str, n: sympy.Expr, nbytes: sympy.Expr) -> sympy.Expr:
    """``kind`` over n chips of the scale-up network alone (what the thresholds solve: no branch on n)."""
    latency, per_byte = _scale_up(kind, n)
    return latency + nbytes * per_byte


def collective(kind: str, n: sympy.Expr, nbytes: sympy.Expr) -> sympy.Expr:
    latency, per_byte = collective_terms(kind, n)
    return latency + nbytes * per_byte


_n = collective_chips / one("chip")
allreduce_time = GROUP.derived(
    "allreduce_time", r"T_{\text{AR}}", "us", "All-reduce of collective_bytes per chip over collective_chips chips.",
    ALPHA_BETA, collective("all_reduce", _n, collective_bytes))
allgather_time = GROUP.derived(
    "allgather_time", r"T_{\text{AG}}", "us", "All-gather to collective_bytes per chip over collective_chips chips.",
    ALPHA_BETA, collective("all_gather", _n, collective_bytes))
reducescatter_time = GROUP.derived(
    "reducescatter_time", r"T_{\text{RS}}", "us",
    "Reduce-scatter of collective_bytes per chip over collective_chips chips.", ALPHA_BETA,
    collective("reduce_scatter", _n, collective_bytes))
alltoall_time = GROUP.derived(
    "alltoall_time", r"T_{\text{A2A}}", "us",
    "All-to-all of collective_bytes per chip (a share for every chip) over collective_chips chips.", ALPHA_BETA,
    collective("all_to_all", _n, collective_bytes))
p2p_time = GROUP.derived(
    "p2p_time", r"T_{\text{P2P}}", "us", "One chip sending collective_bytes to another (collective_chips apart "
    "decides the network).", ALPHA_BETA, collective("point_to_point", _n, collective_bytes))

# --- the layout of a replica ---
LAYOUT = "layout conventions: symroof/model/communication.py"
_SPAN = n_chips / scale_up_domain  # scale-up domains the replica spans
pipeline_stages = GROUP.derived(
    "pipeline_stages", r"\text{PP}_{\text{eff}}", "", "Pipeline stages of the replica: pipeline_parallel when a layout "
    "is given (or it is above 1); otherwise one stage per scale-up domain the replica spans, so that each stage's "
    "tensor-parallel group stays inside one domain, where the chips fill whole domains and there are layers enough "
    "(else 1: the chapter's pure model parallelism, across domains if it must).", LAYOUT,
    sympy.Piecewise((pipeline_parallel, sympy.Or(tensor_parallel > 0, pipeline_parallel > 1)),
                    (_SPAN, sympy.And(n_chips > scale_up_domain, _SPAN <= n_layers,
                                      sympy.Eq(sympy.floor(_SPAN) * scale_up_domain, n_chips))),
                    (1, True)),
    label="Pipeline stages")
tensor_parallel_size = GROUP.derived(
    "tensor_parallel_size", r"\text{TP}_{\text{eff}}", "", "Chips each layer's matmuls are split over: "
    "tensor_parallel, or every chip of a pipeline stage when it is 0.", LAYOUT,
    sympy.Piecewise((tensor_parallel, tensor_parallel > 0), (n_chips / (pipeline_stages * one("chip")), True)),
    label="Tensor-parallel chips")
total_chips = GROUP.derived(
    "total_chips", r"Y_{\text{total}}", "chip", "Chips of all replicas.", LAYOUT, data_parallel * n_chips,
    label="Chips of all replicas")
moe_layers = GROUP.derived(
    "moe_layers", r"L_{\text{MoE}}", "", "Layers whose MLP is a mixture of experts.", "model config",
    n_layers - n_dense_layers)
layout_fills_replica = GROUP.derived(
    "layout_fills_replica", r"\text{TP} \cdot \text{PP} = Y", "", "Whether tensor_parallel x pipeline_parallel is "
    "the replica's chips (when tensor_parallel is given).", LAYOUT,
    sympy.Or(tensor_parallel <= 0, sympy.Eq(tensor_parallel * pipeline_parallel * one("chip"), n_chips)),
    boolean=True, on_false="refuse",
    says=("The layout fills the replica's {n_chips} chips.",
          "tensor_parallel ({tensor_parallel}) x pipeline_parallel ({pipeline_parallel}) must equal n_chips "
          "({n_chips}); set one of them to match, or leave tensor_parallel at 0 (all chips of a stage)"))
stages_divide_chips = GROUP.derived(
    "stages_divide_chips", r"\text{PP} \mid Y", "", "Whether the pipeline stages split the chips evenly.", LAYOUT,
    sympy.Or(pipeline_stages <= 1, sympy.Eq(sympy.floor(tensor_parallel_size), tensor_parallel_size)),
    boolean=True, on_false="refuse",
    says=("Each of the {pipeline_stages} stages has {tensor_parallel_size} chips.",
          "n_chips ({n_chips}) is not a multiple of pipeline_parallel ({pipeline_stages})"))
stages_within_layers = GROUP.derived(
    "stages_within_layers", r"\text{PP} \le L", "", "Whether every pipeline stage has a layer.", LAYOUT,
    sympy.LessThan(pipeline_stages, n_layers), boolean=True, on_false="refuse",
    says=("Every stage has layers.",
          "pipeline_parallel ({pipeline_stages}) is above the model's {n_layers} layers"))
tensor_parallel_divides_heads = GROUP.derived(
    "tensor_parallel_divides_heads", r"\text{TP} \mid N", "", "Whether a given tensor-parallel degree splits the "
    "attention heads evenly.", LAYOUT,
    sympy.Or(tensor_parallel <= 0,  # (the Max keeps a spreadsheet's OR, which reads both sides, from dividing by 0)
             sympy.Eq(sympy.floor(n_heads / sympy.Max(tensor_parallel, 1)) * tensor_parallel, n_heads)),
    boolean=True, on_false="refuse",
    says=("The heads split evenly.",
          "tensor_parallel ({tensor_parallel}) does not divide the model's {n_heads} attention heads"))
attention_data_parallel_divides = GROUP.derived(
    "attention_data_parallel_divides", r"\text{DP}_{\text{attn}} \mid \text{TP}", "", "Whether the attention "
    "data-parallel groups split the tensor-parallel chips evenly.", LAYOUT,
    sympy.Or(sympy.Eq(attention_data_parallel, 1),  # one group: any slice (the chapter's, fractional ones too)
             sympy.Eq(sympy.floor(tensor_parallel_size / attention_data_parallel) * attention_data_parallel,
                      tensor_parallel_size)), boolean=True, on_false="refuse",
    says=("Each of the {attention_data_parallel} attention groups has its share of the chips.",
          "attention_data_parallel ({attention_data_parallel}) does not divide the tensor-parallel chips "
          "({tensor_parallel_size})"))
experts_per_token_within_experts = GROUP.derived(
    "experts_per_token_within_experts", r"k \le E", "", "Whether a token chooses at most the experts there are "
    "(and a dense model's one MLP).", "model config", sympy.LessThan(n_experts_per_token, n_experts), boolean=True,
    on_false="refuse",
    says=("Each token chooses {n_experts_per_token} of {n_experts} experts.",
          "n_experts_per_token ({n_experts_per_token}) is above n_experts ({n_experts}): a token cannot choose more "
          "experts than a layer has"))
experts_fill_expert_parallel = GROUP.derived(
    "experts_fill_expert_parallel", r"\text{EP} \le E", "", "Whether every expert-parallel chip holds an expert.",
    LAYOUT, sympy.LessThan(expert_parallel, n_experts), boolean=True, on_false="refuse",
    says=("Each expert-parallel chip holds experts.",
          "expert_parallel ({expert_parallel}) is above the model's {n_experts} experts per layer"))
expert_parallel_divides_chips = GROUP.derived(
    "expert_parallel_divides_chips", r"\text{EP} \mid Y", "", "Whether the expert-parallel groups split the "
    "replica's chips evenly.", LAYOUT,
    sympy.Or(expert_parallel <= 1,
             sympy.Eq(sympy.floor(n_chips / (expert_parallel * one("chip"))) * expert_parallel * one("chip"), n_chips)),
    boolean=True, on_false="refuse",
    says=("The expert-parallel groups split the chips evenly.",
          "expert_parallel ({expert_parallel}) does not divide the replica's {n_chips} chips"))
tensor_parallel_within_scale_up = GROUP.derived(
    "tensor_parallel_within_scale_up", r"\text{TP} \le D_{\text{up}}", "",
    "Whether the group each all-reduce spans (the tensor-parallel chips of one attention group) fits in one "
    "scale-up domain.", LAYOUT,
    sympy.LessThan(tensor_parallel_size / attention_data_parallel * one("chip"), scale_up_domain), boolean=True,
    on_false="warn",
    says=("The tensor-parallel group is inside one scale-up domain.",
          "the tensor-parallel group ({tensor_parallel_size} chips) is larger than the scale-up domain "
          "({scale_up_domain} chips) for its {attention_data_parallel} attention group(s): its all-reduces cross "
          "the slower scale-out network"))
expert_parallel_within_scale_up = GROUP.derived(
    "expert_parallel_within_scale_up", r"\text{EP} \le D_{\text{up}}", "",
    "Whether the expert-parallel group fits in one scale-up domain.", LAYOUT,
    sympy.LessThan(expert_parallel * one("chip"), scale_up_domain), boolean=True, on_false="warn",
    says=("The expert-parallel group is inside one scale-up domain.",
          "the expert-parallel group ({expert_parallel} chips) is larger than the scale-up domain "
          "({scale_up_domain} chips): its all-to-alls cross the slower scale-out network"))

# --- what one decode step sends ---
tp_allreduce_bytes = GROUP.derived(
    "tp_allreduce_bytes", r"M_{\text{AR}}", "byte", "Activations of the batch after one layer's attention or MLP: "
    "what each tensor-parallel chip all-reduces.", ALPHA_BETA,
    batch_size * one("token/sequence") * d_model * activation_bytes_per_value)
SCENARIO.set_default(collective_bytes, tp_allreduce_bytes)
tp_allreduce_time = GROUP.at(
    "tp_allreduce_time", r"T_{\text{AR}}^{\text{TP}}", "us",
    "One all-reduce of one layer's activations over the tensor-parallel chips of an attention group (each "
    "attention data-parallel group reduces its own share of the batch).", ALPHA_BETA, allreduce_time,
    {collective_bytes: tp_allreduce_bytes / attention_data_parallel,
     collective_chips: tensor_parallel_size / attention_data_parallel * one("chip")})
ep_alltoall_time = GROUP.at(
    "ep_alltoall_time", r"T_{\text{A2A}}^{\text{EP}}", "us",
    "One all-to-all of the routed tokens (each to its top-k experts) over the expert-parallel group.", ALPHA_BETA,
    alltoall_time, {collective_bytes: tp_allreduce_bytes * n_experts_per_token / expert_parallel,
                    collective_chips: expert_parallel * one("chip")})
pp_handoff_time = GROUP.at(
    "pp_handoff_time", r"T_{\text{P2P}}^{\text{PP}}", "us",
    "One pipeline stage handing the batch's activations to the next (each chip its tensor-parallel share).",
    ALPHA_BETA, p2p_time, {collective_bytes: tp_allreduce_bytes / tensor_parallel_size, collective_chips: n_chips})
_expert_parallel_on = sympy.Piecewise((1, expert_parallel > 1), (0, True))
step_time_comm_tp = GROUP.derived(
    "step_time_comm_tp", r"T_{\text{comm}}^{\text{TP}}", "ms", "A decode step's tensor-parallel all-reduces: two a "
    "layer (one where an expert-parallel MoE layer all-to-alls instead).", ALPHA_BETA,
    (2 * n_layers - moe_layers * _expert_parallel_on) * tp_allreduce_time)
step_time_comm_ep = GROUP.derived(
    "step_time_comm_ep", r"T_{\text{comm}}^{\text{EP}}", "ms",
    "A decode step's expert-parallel all-to-alls: dispatch and combine in every MoE layer.", ALPHA_BETA,
    2 * moe_layers * _expert_parallel_on * ep_alltoall_time)
step_time_comm_pp = GROUP.derived(
    "step_time_comm_pp", r"T_{\text{comm}}^{\text{PP}}", "ms", "A decode step's pipeline hand-offs.", ALPHA_BETA,
    (pipeline_stages - 1) * pp_handoff_time)
# the sum of the parts is linear in the batch: its fixed (latency) part and its part per sequence are named, so
# that thresholds solved through the step time see two quantities free of the batch
_parts = rewrite.inline(step_time_comm_tp + step_time_comm_ep + step_time_comm_pp, batch_size)
step_time_comm_fixed = GROUP.derived(
    "step_time_comm_fixed", r"T_{\text{comm}}^{0}", "ms", "The latency part of a decode step's communication: its "
    "time at a batch of 0.", ALPHA_BETA, _parts.xreplace({batch_size: 0}))
step_time_comm_per_sequence = GROUP.derived(
    "step_time_comm_per_sequence", r"T_{\text{comm}}^{\prime}", "ms/sequence", "The bandwidth part of a decode "
    "step's communication, per sequence of the batch.", ALPHA_BETA, sympy.diff(_parts, batch_size))
step_time_comm = GROUP.derived(
    "step_time_comm", r"T_{\text{comm}}", "ms", "All communication of one decode step: tensor-parallel all-reduces, "
    "expert-parallel all-to-alls and pipeline hand-offs (step_time_comm_tp + step_time_comm_ep + "
    "step_time_comm_pp).", ALPHA_BETA, step_time_comm_fixed + batch_size * step_time_comm_per_sequence,
    label="Communication per decode step")
comm_exposed = GROUP.derived(
    "comm_exposed", r"1 - \omega", "", "Fraction of a step's communication on its critical path (0 in bound mode).",
    "estimate mode", 1 - comm_overlap)

