"""Reading a Hugging Face ``config.json`` into a catalog model (``symroof import-model``).

One small reader per architecture family turns the family's own keys into
symroof's model inputs, each with the key it came from; a key the family does
not have is never guessed. Where transformers supplies a default that the
published config leaves out (Gemma 3's vocabulary, tied embeddings), the
source line names that default. Nothing is downloaded.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import CatalogError
from .hf_dtypes import flag, native_dtypes

FAMILIES = ("llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe", "deepseek_v2", "deepseek_v3", "gpt_oss",
            "gemma2", "gemma3", "llama4")


@dataclass
class Model:
    """The catalog entry being built: values (plain numbers or text) and where each came from."""

    where: str
    config: dict
    values: dict[str, object] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def key(self, name: str, default=None, *, required: bool = True):
        """A config value; missing and required is one error naming the file and key."""
        if name in self.config and self.config[name] is not None:
            return self.config[name]
        if default is not None or not required:
            return default
        raise CatalogError(f"{self.where}: missing key {name!r}")

    def take(self, quantity: str, key: str, value=None, note: str = "") -> None:
        """Set ``quantity`` from config key ``key`` (or a value worked out from it, described in ``note``)."""
        self.values[quantity] = self.key(key) if value is None else value
        self.sources[quantity] = f"config.json {key}" + (f" ({note})" if note else "")

    def set(self, quantity: str, value, source: str) -> None:
        self.values[quantity] = value
        self.sources[quantity] = source


def _integer(m: Model, key: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CatalogError(f"{m.where}: {key} must be a whole number, got {value!r}")
    return value


def _count(m: Model, key: str) -> int:
    """A config count (layers, widths, heads, vocabulary): a whole number, at least 1."""
    value = _integer(m, key, m.key(key))
    if value <= 0:
        raise CatalogError(f"{m.where}: {key} must be at least 1, got {value}")
    return value


def _common(m: Model, tie_default: bool) -> None:
    """Keys every decoder-only transformer has: layers, widths, heads, vocabulary, tied embeddings."""
    _count(m, "num_hidden_layers")
    m.take("n_layers", "num_hidden_layers")
    _count(m, "hidden_size")
    m.take("d_model", "hidden_size")
    heads = _count(m, "num_attention_heads")
    m.take("n_heads", "num_attention_heads")
    if "num_key_value_heads" in m.config and m.config["num_key_value_heads"] is not None:
        kv = _count(m, "num_key_value_heads")
        if heads % kv:
            raise CatalogError(f"{m.where}: num_key_value_heads ({kv}) does not divide num_attention_heads "
                               f"({heads}); each key-value head serves a whole group of query heads")
        m.take("n_kv_heads", "num_key_value_heads")
    else:
        m.set("n_kv_heads", heads, "config.json num_attention_heads (no num_key_value_heads: multi-head attention)")
    if m.config.get("head_dim") is not None:
        _count(m, "head_dim")
        m.take("d_head", "head_dim")
    else:
        hidden = m.key("hidden_size")
        if hidden % heads:
            raise CatalogError(f"{m.where}: no head_dim, and hidden_size {hidden} is not a multiple of "
                               f"num_attention_heads {heads}")
        m.take("d_head", "hidden_size", hidden // heads, "hidden_size / num_attention_heads, no head_dim key")
    _count(m, "vocab_size")
    m.take("vocab_size", "vocab_size")
    if m.config.get("tie_word_embeddings") is None:
        m.set("tie_word_embeddings", int(tie_default), f"transformers default for {m.config.get('model_type')} "
                                                        "(no tie_word_embeddings key)")
    else:
        m.take("tie_word_embeddings", "tie_word_embeddings", int(flag(m.config, "tie_word_embeddings", tie_default,
                                                                         m.where)))


def _dense(m: Model) -> None:
    _count(m, "intermediate_size")
    m.take("d_ff", "intermediate_size")


def _experts(m: Model, count_key: str, width_key: str, k_key: str = "num_experts_per_tok") -> None:
    experts = _integer(m, count_key, m.key(count_key))
    k = _integer(m, k_key, m.key(k_key))
    if experts < 1 or k < 1:
        raise CatalogError(f"{m.where}: {count_key} and {k_key} must be at least 1")
    if k > experts:
        raise CatalogError(f"{m.where}: {k_key} ({k}) is more than {count_key} ({experts})")
    m.set("mlp", "moe", f"config.json {count_key} ({experts} routed experts)")
    m.take("n_experts", count_key)
    m.take("n_experts_per_token", k_key)
    m.take("d_ff_expert", width_key)


def _dense_layers(m: Model, n: int, source: str) -> None:
    layers = m.values["n_layers"]
    if not 0 <= n <= layers:
        raise CatalogError(f"{m.where}: {n} dense layers is more than num_hidden_layers ({layers})")
    m.set("n_dense_layers", n, source)


def _sliding(m: Model, window_key: str, n: int, how: str) -> None:
    window = m.key(window_key)
    if isinstance(window, bool) or not isinstance(window, int) or not 0 < window <= 10**8:
        raise CatalogError(f"{m.where}: {window_key} must be a whole number of tokens from 1 to 1e8, got {window!r}")
    layers = m.values["n_layers"]
    if not 0 <= n <= layers:
        raise CatalogError(f"{m.where}: {n} sliding-window layers is more than num_hidden_layers ({layers})")
    m.set("sliding_window", f"{window} token/sequence", f"config.json {window_key}")
    m.set("n_sliding_layers", n, how)


def _layer_types(m: Model) -> int:
    types = m.key("layer_types")
    if not isinstance(types, list) or len(types) != m.values["n_layers"]:
        raise CatalogError(f"{m.where}: layer_types must list one type per layer")
    unknown = sorted(set(types) - {"sliding_attention", "full_attention"})
    if unknown:
        raise CatalogError(f"{m.where}: layer_types has {unknown[0]!r}, which symroof does not understand")
    return types.count("sliding_attention")


# --- one reader per family ----------------------------------------------------------------------------------------

def _llama(m: Model) -> None:
    _common(m, tie_default=False)
    _dense(m)
    if flag(m.config, "use_sliding_window", False, m.where):
        raise CatalogError(f"{m.where}: use_sliding_window with max_window_layers is not understood")
    # Mistral 7B v0.1: every layer slides; Qwen2 configs carry a sliding_window their use_sliding_window turns off
    if m.config.get("sliding_window") and flag(m.config, "use_sliding_window", True, m.where):
        _sliding(m, "sliding_window", m.values["n_layers"], "config.json sliding_window: every layer")


def _mixtral(m: Model) -> None:
    _common(m, tie_default=False)
    _dense(m)
    _experts(m, "num_local_experts", "intermediate_size")
    _dense_layers(m, 0, "Mixtral: every layer is a mixture of experts")
    if m.config.get("sliding_window"):
        _sliding(m, "sliding_window", m.values["n_layers"], "config.json sliding_window: every layer")


def _qwen3_moe(m: Model) -> None:
    _common(m, tie_default=False)
    _dense(m)
    _experts(m, "num_experts", "moe_intermediate_size")
    layers = m.values["n_layers"]
    step = _integer(m, "decoder_sparse_step", m.key("decoder_sparse_step", 1))
    only = m.key("mlp_only_layers", [])
    dense = sum(1 for i in range(layers) if i in only or (i + 1) % step != 0)
    _dense_layers(m, dense, f"config.json decoder_sparse_step {step} and mlp_only_layers {only}")
    if flag(m.config, "use_sliding_window", False, m.where):
        raise CatalogError(f"{m.where}: use_sliding_window with max_window_layers is not understood")


def _deepseek(m: Model) -> None:
    _common(m, tie_default=False)
    _dense(m)
    _experts(m, "n_routed_experts", "moe_intermediate_size")
    m.take("n_shared_experts", "n_shared_experts", m.key("n_shared_experts", 0), "shared experts per MoE layer")
    freq = _integer(m, "moe_layer_freq", m.key("moe_layer_freq", 1))
    if freq != 1:
        raise CatalogError(f"{m.where}: moe_layer_freq {freq} is not understood (only 1)")
    _dense_layers(m, _integer(m, "first_k_dense_replace", m.key("first_k_dense_replace", 0)),
                  "config.json first_k_dense_replace")
    m.set("attention", "mla", "config.json kv_lora_rank (multi-head latent attention)")
    rank = _integer(m, "kv_lora_rank", m.key("kv_lora_rank"))
    rope = _integer(m, "qk_rope_head_dim", m.key("qk_rope_head_dim", 0))
    if rank <= 0 or rope <= 0:
        raise CatalogError(f"{m.where}: MLA needs kv_lora_rank and qk_rope_head_dim above 0 (got {rank}, {rope})")
    m.take("kv_lora_rank", "kv_lora_rank")
    m.take("qk_rope_head_dim", "qk_rope_head_dim")
    m.take("qk_nope_head_dim", "qk_nope_head_dim")
    m.take("v_head_dim", "v_head_dim")
    q_rank = m.config.get("q_lora_rank")
    if q_rank is None:
        m.set("q_lora_rank", 0, "config.json q_lora_rank null: queries not compressed")
    else:
        m.take("q_lora_rank", "q_lora_rank")
    m.take("d_head", "v_head_dim", note="MLA: the value head width stands in for d_head")


def _gpt_oss(m: Model) -> None:
    _common(m, tie_default=False)
    m.take("d_ff", "intermediate_size", note="no dense MLP layers; the expert width")
    k_key = "num_experts_per_tok" if "num_experts_per_tok" in m.config else "experts_per_token"
    _experts(m, "num_local_experts", "intermediate_size", k_key)
    _dense_layers(m, 0, "gpt-oss: every layer is a mixture of experts")
    _sliding(m, "sliding_window", _layer_types(m), "config.json layer_types: the sliding_attention layers")


def _gemma(m: Model, *, vocab_default: int | None, pattern_default: int) -> None:
    defaulted = "vocab_size" not in m.config and vocab_default is not None
    if defaulted:
        m.config = {**m.config, "vocab_size": vocab_default}
    _common(m, tie_default=True)
    if defaulted:
        m.sources["vocab_size"] = f"transformers Gemma3TextConfig default {vocab_default} (no vocab_size key)"
    _dense(m)
    layers = m.values["n_layers"]
    if "layer_types" in m.config:
        sliding = _layer_types(m)
        how = "config.json layer_types: the sliding_attention layers"
    else:
        pattern = _integer(m, "sliding_window_pattern", m.key("sliding_window_pattern", pattern_default))
        sliding = layers - layers // pattern
        how = f"every {pattern}th layer global, the rest local (sliding_window_pattern {pattern})"
    _sliding(m, "sliding_window", sliding, how)


def _llama4(m: Model) -> None:
    _common(m, tie_default=False)
    m.take("d_ff", "intermediate_size_mlp", note="the dense layers' MLP width")
    _experts(m, "num_local_experts", "intermediate_size")
    m.set("n_shared_experts", 1, "Llama 4: every MoE layer has one shared expert (transformers Llama4TextMoe)")
    step = _integer(m, "interleave_moe_layer_step", m.key("interleave_moe_layer_step", 1))
    layers = m.values["n_layers"]
    moe = len(range(step - 1, layers, step))
    _dense_layers(m, layers - moe,
                  f"config.json interleave_moe_layer_step {step}: {moe} of the {layers} layers are MoE")
    interval = 4  # transformers Llama4TextConfig: no_rope_layer_interval 4 (every 4th layer global, no RoPE)
    chunked = layers - layers // interval
    _sliding(m, "attention_chunk_size", chunked,
             f"chunked attention on the RoPE layers: all but every {interval}th (transformers default), its KV "
             "capped at the chunk like a window")


READERS: dict[str, Callable[[Model], None]] = {
    "llama": _llama, "mistral": _llama, "qwen2": _llama, "qwen3": _llama, "mixtral": _mixtral,
    "qwen3_moe": _qwen3_moe, "deepseek_v2": _deepseek, "deepseek_v3": _deepseek, "gpt_oss": _gpt_oss,
    "gemma2": lambda m: _gemma(m, vocab_default=None, pattern_default=2),
    "gemma3": lambda m: _gemma(m, vocab_default=262208, pattern_default=6),
    "llama4": _llama4,
}


def read(path: str | Path, warn: Callable[[Sequence[str]], None] | None = None
         ) -> tuple[dict[str, object], dict[str, str], str]:
    """(values, sources, family) of the model a ``config.json`` describes.

    What it reads but cannot place (an unknown quantisation method) goes to ``warn`` as one line each; without
    ``warn``, to Python's :mod:`warnings`.
    """
    path = Path(path)
    where = str(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))  # a byte-order mark (Windows editors) is read
    except FileNotFoundError:
        raise CatalogError(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{where}: not a readable JSON config ({exc})") from None
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: a config.json holds one JSON object")
    family = str(raw.get("model_type", ""))
    config = raw
    if isinstance(raw.get("text_config"), dict):  # multimodal: the language model's own config
        config = {**raw["text_config"]}
        family = family or str(config.get("model_type", ""))
    family = family.removesuffix("_text")
    if family not in READERS:
        known = ", ".join(FAMILIES)
        raise CatalogError(f"{where}: model_type {family or '(none)'!r} is not understood; symroof reads {known}")
    m = Model(where, config)
    READERS[family](m)
    dtypes, said = native_dtypes(raw, config, where)
    for quantity, (value, source) in dtypes.items():
        m.set(quantity, value, source)
    if said and warn is not None:
        warn(said)
    for line in said if warn is None else ():
        warnings.warn(line, stacklevel=2)
    return m.values, m.sources, family


def to_toml(values: dict[str, object], sources: dict[str, str], model_id: str, name: str, origin: str) -> str:
    """The catalog TOML of an imported model (one line per value, each with its source)."""
    def q(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    lines = [f"# Imported by symroof import-model from {origin}.", f"id = {q(model_id)}", f"name = {q(name)}",
             f"source = {q('Hugging Face config.json (' + origin + ')')}", ""]
    for key, value in values.items():
        shown = q(value) if isinstance(value, str) else str(value)
        lines.append(f"{key} = {{ value = {shown}, source = {q(sources[key])} }}")
    return "\n".join(lines) + "\n"
