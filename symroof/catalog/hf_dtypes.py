"""The dtypes a Hugging Face checkpoint is stored in: its ``quantization_config``, else its ``torch_dtype``.

Each quantisation scheme transformers writes into ``config.json`` names its
bits its own way: AWQ and GPTQ ``bits``, bitsandbytes ``load_in_4bit`` /
``load_in_8bit``, compressed-tensors (llm-compressor) one ``weights`` entry per
``config_groups`` group, NVIDIA ModelOpt its ``quant_algo``, FP8 and MXFP4 the
method itself. A method read here
sets the catalog's native dtypes with a source naming the key; one it does not
know is a warning naming it, never a silent bf16. Weight-only schemes keep the
matmuls in 16 bits (``compute_dtype`` is left at its default). Group scales and
the layers the schemes leave in 16 bits (embeddings, ``lm_head``) are not
counted: the source line says so.
"""

from __future__ import annotations

from ..core.errors import CatalogError

#: ``torch_dtype`` spellings and the dtypes they are.
TORCH_DTYPES = {"bfloat16": "bf16", "float16": "bf16", "float32": "bf16"}
#: Bits per stored value of the dtypes a scheme may map to (block scales included), to pick the widest.
BITS = {"int4": 4, "mxfp4": 4.25, "fp4": 4.5, "int8": 8, "fp8": 8, "bf16": 16}
UNCOUNTED = "scales and the 16-bit embeddings and lm_head not counted"


def flag(config: dict, key: str, default: bool, where: str) -> bool:
    """A yes/no key: JSON true/false, 0/1, or the strings "true"/"false" (never the truthiness of a string)."""
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise CatalogError(f"{where}: {key} must be true or false, got {value!r}")


def _int_bits(bits) -> str | None:
    """int4/int8 for an integer scheme's ``bits``; None for widths symroof has no dtype for."""
    return {4: "int4", 8: "int8"}.get(bits) if isinstance(bits, int) and not isinstance(bits, bool) else None


def _ct_dtype(args) -> str | None:
    """The dtype of one compressed-tensors quantisation-args entry ({num_bits, type, group_size})."""
    if not isinstance(args, dict):
        return None
    bits, kind = args.get("num_bits"), str(args.get("type", "int")).lower()
    if kind == "int":
        return _int_bits(bits)
    if kind == "float" and bits == 8:
        return "fp8"
    if kind == "float" and bits == 4:  # NVFP4 groups 16 values per scale, MXFP4 32
        return "mxfp4" if args.get("group_size") == 32 else "fp4"
    return None


def _compressed_tensors(quant: dict, where: str) -> tuple[dict[str, tuple[str, str]], list[str]]:
    groups = quant.get("config_groups")
    if not isinstance(groups, dict) or not groups:
        return {}, [f"{where}: quantization_config compressed-tensors has no config_groups; weight_dtype from "
                    "torch_dtype"]
    weights, inputs, unread = {}, {}, []
    for name, group in groups.items():
        args = group.get("weights") if isinstance(group, dict) else None
        dtype = _ct_dtype(args)
        if dtype is None:
            shown = {k: args.get(k) for k in ("num_bits", "type")} if isinstance(args, dict) else args
            unread.append(f"{name} weights {shown}")
            continue
        weights[name] = dtype
        acts = group.get("input_activations")
        inputs[name] = _ct_dtype(acts) if acts else None
    out: dict[str, tuple[str, str]] = {}
    warnings = [f"{where}: quantization_config compressed-tensors {u} is not a dtype symroof has "
                "(int 4 or 8 bits, float 4 or 8 bits); that group is left out of weight_dtype" for u in unread]
    if not weights:
        return {}, warnings + [f"{where}: no compressed-tensors group has weights symroof reads; weight_dtype "
                                "from torch_dtype"]
    widest = max(weights.values(), key=BITS.__getitem__)
    if len(set(weights.values())) > 1:
        warnings.append(f"{where}: quantization_config compressed-tensors groups store weights in "
                        f"{', '.join(sorted(set(weights.values())))}; symroof takes the widest, {widest}")
    name = next(n for n, d in weights.items() if d == widest)
    out["weight_dtype"] = (widest, f"config.json quantization_config compressed-tensors config_groups {name} weights "
                                   f"({UNCOUNTED})")
    acts = {inputs[n] for n, d in weights.items() if d == widest}
    if len(acts) == 1 and None not in acts:  # weights and activations quantised: the matmuls run in that dtype
        act = acts.pop()
        out["compute_dtype"] = (act, f"config.json quantization_config compressed-tensors config_groups {name} "
                                     "input_activations")
    kv = _ct_dtype(quant.get("kv_cache_scheme"))
    if kv in ("fp8", "int8", "int4"):
        out["kv_dtype"] = (kv, "config.json quantization_config compressed-tensors kv_cache_scheme")
    return out, warnings


#: NVIDIA ModelOpt's quant_algo values (vLLM vllm/model_executor/layers/quantization/modelopt.py: FP8,
#: FP8_PER_CHANNEL_PER_TOKEN, FP8_PB_WO, NVFP4, MXFP8; W4A16_NVFP4 in ModelOpt's weight-only exports): (weights,
#: matmuls; None keeps the 16-bit default).
MODELOPT = {"FP8": ("fp8", "fp8"), "FP8_PER_CHANNEL_PER_TOKEN": ("fp8", "fp8"), "FP8_PB_WO": ("fp8", "fp8"),
            "MXFP8": ("fp8", "fp8"), "NVFP4": ("fp4", "fp4"), "W4A16_NVFP4": ("fp4", None)}


def _modelopt(quant: dict, where: str) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """``{"quant_method": "modelopt", "quant_algo": ...}`` (MIXED_PRECISION: the widest of its quantized_layers)."""
    algo = str(quant.get("quant_algo", "")).upper()
    source = f"config.json quantization_config modelopt quant_algo {algo}"
    if algo == "MIXED_PRECISION" and isinstance(quant.get("quantized_layers"), dict):
        algos = {str(v.get("quant_algo", "")).upper() for v in quant["quantized_layers"].values()
                 if isinstance(v, dict)}
        known = [a for a in algos if a in MODELOPT]
        if not known or len(known) < len(algos):
            return {}, [f"{where}: quantization_config modelopt MIXED_PRECISION layers use {', '.join(sorted(algos))}, "
                        "which symroof does not all read; weight_dtype from torch_dtype"]
        algo = max(known, key=lambda a: BITS[MODELOPT[a][0]])
        source += f" (quantized_layers {', '.join(sorted(algos))}: the widest, {algo}; {UNCOUNTED})"
    if algo not in MODELOPT:
        return {}, [f"{where}: quantization_config modelopt quant_algo {algo or '(none)'!r} is not understood; "
                    "weight_dtype from torch_dtype: the checkpoint may be smaller than planned"]
    weights, matmuls = MODELOPT[algo]
    out = {"weight_dtype": (weights, source)}
    if matmuls:
        out["compute_dtype"] = (matmuls, source)
    if str(quant.get("kv_cache_quant_algo", "")).upper() == "FP8":
        out["kv_dtype"] = ("fp8", "config.json quantization_config modelopt kv_cache_quant_algo FP8")
    return out, []


def native_dtypes(raw: dict, config: dict, where: str) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """({quantity: (dtype, source)}, warnings) of the released checkpoint's storage."""
    quant = raw.get("quantization_config")
    method = str(quant.get("quant_method", "")).lower() if isinstance(quant, dict) else ""
    torch_key = next((k for k in ("torch_dtype", "dtype") if raw.get(k) or config.get(k)), "torch_dtype")
    torch_dtype = str(raw.get(torch_key) or config.get(torch_key) or "")
    out: dict[str, tuple[str, str]] = {}
    warnings: list[str] = []
    source = f"config.json quantization_config quant_method {method}"
    if method in ("fp8", "fbgemm_fp8"):
        out["weight_dtype"] = out["compute_dtype"] = ("fp8", source)
    elif method == "mxfp4":
        out["expert_dtype"] = ("mxfp4", source + " (MoE weights)")
        out["weight_dtype"] = ("bf16", "config.json: tensors left unconverted are BF16")
    elif method in ("awq", "gptq"):
        key = "bits" if "bits" in quant else "w_bit"  # AutoAWQ's own files spell it w_bit
        dtype = _int_bits(quant.get(key))
        if dtype:
            out["weight_dtype"] = (dtype, f"{source}, {key} {quant[key]} (weight-only; {UNCOUNTED})")
        else:
            warnings.append(f"{where}: quantization_config {method} {key} {quant.get(key)!r} is not a width "
                            "symroof has (4 or 8); weight_dtype from torch_dtype")
    elif method.startswith("bitsandbytes"):
        four = flag(quant, "load_in_4bit", False, where) or flag(quant, "_load_in_4bit", False, where)
        eight = flag(quant, "load_in_8bit", False, where) or flag(quant, "_load_in_8bit", False, where)
        if four or eight:
            key, dtype = ("load_in_4bit", "int4") if four else ("load_in_8bit", "int8")
            out["weight_dtype"] = (dtype, f"{source}, {key} (weight-only; {UNCOUNTED})")
        else:
            warnings.append(f"{where}: quantization_config bitsandbytes sets neither load_in_4bit nor load_in_8bit; "
                            "weight_dtype from torch_dtype")
    elif method == "compressed-tensors":
        out, warnings = _compressed_tensors(quant, where)
    elif method == "modelopt":
        out, warnings = _modelopt(quant, where)
    elif isinstance(quant, dict) or method:
        method = method or "(none)"
        warnings.append(f"{where}: quantization_config quant_method {method!r} is not understood; weight_dtype "
                        f"from torch_dtype {torch_dtype or '(none)'}: the checkpoint may be smaller than planned")
    if "weight_dtype" not in out and torch_dtype in TORCH_DTYPES:
        out["weight_dtype"] = (TORCH_DTYPES[torch_dtype], f"config.json {torch_key} {torch_dtype}")
    return out, warnings
