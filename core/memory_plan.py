"""The memory a model needs to run or train, from its exact counts and its config.

Inference = weights at a chosen precision + KV cache + an activations estimate + a user-set
overhead. Training = weights + gradients + optimizer states + activations, and the share of one
GPU under ZeRO stages 1–3. Every formula, with its source, is written out in docs/memory.md; the
functions here follow that document term by term.

The plan uses what the checkpoint holds exactly (parameter count, matrix shapes, an adapter's own
LoRA tensors) and what its config says about attention (layers, KV heads, head_dim, sliding
windows, latent attention). What it cannot know it says in `notes` rather than guess silently.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from core.adapters import lora_modules
from core.dtypes import DTYPES
from core.model import Checkpoint, TensorInfo

GIB = 1 << 30
GPU_SIZES_GB = (8, 12, 16, 24, 48, 80, 141)  # common cards: lines on the bar, sentences below

# precision → bits per element; GGUF block types add their real bits per weight (q4_k: 4.5)
_SHORT_BITS: dict[str, float] = {
    "fp32": 32,
    "fp16": 16,
    "bf16": 16,
    "fp8": 8,
    "int8": 8,
    "int4": 4,
}
_ALIASES = {
    "float32": "fp32",
    "float16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
    "float8": "fp8",
    "float8_e4m3fn": "fp8",
    "float8_e5m2": "fp8",
}
TRAIN_MODES = ("adamw", "adamw8bit", "sgd", "adafactor", "lora")
# bitsandbytes' 8-bit optimizers quantise each state in blocks of 2048 values with one fp32
# absolute maximum per block (Dettmers et al. 2022, "8-bit Optimizers via Block-wise Quantization")
BNB_BLOCK = 2048
# Korthikanti et al. 2022, eq. (1): activations of one transformer layer, 16-bit, no parallelism:
# s·b·h·(34 + 5·a·s/h) bytes; the 5·a·s/h term is the attention score matrix, which FlashAttention
# / SDPA never materialise, so the plan uses 34·s·b·h (docs/memory.md).
ACTIVATION_BYTES_PER_TOKEN_HIDDEN = 34
CHECKPOINTED_BYTES_PER_TOKEN_HIDDEN = 2  # with full recomputation only each layer's input stays


def precision_names() -> list[str]:
    """What `--weights` / `--kv` accept: the short names and every GGUF block type."""
    quant = sorted(name for name, d in DTYPES.items() if d.category == "quant")
    return ["stored", *_SHORT_BITS, *quant]


def bits_of(precision: str) -> float:
    """Bits per element of a precision name ("bf16", "int4", "q4_k", "float16", …)."""
    key = precision.lower()
    key = _ALIASES.get(key, key)
    if key in _SHORT_BITS:
        return _SHORT_BITS[key]
    dtype = DTYPES.get(key)
    if dtype is not None:
        return float(dtype.bits)
    raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(precision_names())}")


def canonical_precision(precision: str) -> str:
    key = precision.lower()
    return _ALIASES.get(key, key)


def bytes_at(count: int, bits: float) -> int:
    """Bytes of `count` elements at `bits` each, rounded up to whole bytes."""
    return math.ceil(count * bits / 8)


# ---------------------------------------------------------------------------- the config


@dataclass(slots=True)
class Attention:
    """What the KV cache depends on. `kind` is "mha" (incl. GQA/MQA) or "mla" (latent)."""

    kind: str = "mha"
    layers: int = 0  # layers that cache every position (full attention)
    sliding_layers: int = 0  # layers that cache only their window
    window: int = 0
    kv_heads: int = 0
    head_dim: int = 0
    latent: int = 0  # MLA: kv_lora_rank + qk_rope_head_dim values per token per layer
    known: bool = False


@dataclass(slots=True)
class Shape:
    """The model-wide sizes the plan needs, from config.json or GGUF metadata."""

    layers: int = 0
    hidden: int = 0
    intermediate: int = 0
    heads: int = 0
    vocab: int = 0
    attention: Attention = field(default_factory=Attention)
    source: str = ""
    notes: list[str] = field(default_factory=list)


def _config_of(checkpoint: Checkpoint) -> tuple[dict[str, Any], str]:
    for name in ("config.json", "params.json"):
        config = checkpoint.hyperparams.get(name)
        if isinstance(config, dict) and config:
            # multimodal wrappers (Gemma 3, LLaVA, Qwen-VL) keep the language model's sizes apart
            text = config.get("text_config")
            if isinstance(text, dict) and ("num_hidden_layers" in text or "hidden_size" in text):
                merged = {**config, **text}
                return merged, f"{name} (text_config)"
            return config, name
    gguf = checkpoint.hyperparams.get("gguf metadata")
    if isinstance(gguf, dict) and gguf:
        return _from_gguf(gguf), "gguf metadata"
    return {}, ""


def _from_gguf(meta: dict[str, Any]) -> dict[str, Any]:
    """GGUF's `{arch}.…` keys under the config.json names the plan reads."""
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        return {}

    def get(key: str) -> Any:
        return meta.get(f"{arch}.{key}")

    config: dict[str, Any] = {
        "model_type": arch,
        "num_hidden_layers": get("block_count"),
        "hidden_size": get("embedding_length"),
        "intermediate_size": get("feed_forward_length"),
        "num_attention_heads": get("attention.head_count"),
        "num_key_value_heads": get("attention.head_count_kv"),
        "sliding_window": get("attention.sliding_window"),
        "kv_lora_rank": get("attention.kv_lora_rank"),
    }
    key_length, value_length = get("attention.key_length"), get("attention.value_length")
    if isinstance(key_length, int) and key_length == value_length:
        config["head_dim"] = key_length
    if config["kv_lora_rank"]:
        config["qk_rope_head_dim"] = get("rope.dimension_count")
    tokens = meta.get("tokenizer.ggml.tokens")
    config["vocab_size"] = get("vocab_size") or (len(tokens) if isinstance(tokens, list) else 0)
    # llama.cpp writes head_count_kv per layer (a list) for models whose layers differ
    for key in ("num_key_value_heads", "num_attention_heads", "intermediate_size"):
        if isinstance(config[key], list) and config[key]:
            config[key] = max(config[key])
    return {k: v for k, v in config.items() if v is not None}


def _int(config: dict[str, Any], *keys: str) -> int:
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


def model_shape(checkpoint: Checkpoint) -> Shape:
    config, source = _config_of(checkpoint)
    shape = Shape(source=source)
    shape.layers = _int(config, "num_hidden_layers", "n_layer", "num_layers", "n_layers")
    shape.hidden = _int(config, "hidden_size", "n_embd", "d_model", "dim")
    shape.intermediate = _int(config, "intermediate_size", "n_inner", "ffn_dim", "d_ff")
    if not shape.intermediate and shape.hidden:
        shape.intermediate = 4 * shape.hidden
    shape.heads = _int(config, "num_attention_heads", "n_head", "num_heads", "n_heads")
    shape.vocab = _int(config, "vocab_size", "n_vocab")
    if not shape.vocab:
        shape.vocab = _vocab_from_tensors(checkpoint.tensors)
    shape.attention = _attention(config, shape)
    if not source:
        shape.notes.append(
            "no config.json or GGUF metadata: the KV cache and activations are unknown (0)"
        )
    elif not shape.attention.known:
        shape.notes.append(f"{source} does not give the attention layout: KV cache unknown (0)")
    return shape


def _vocab_from_tensors(tensors: list[TensorInfo]) -> int:
    for t in tensors:
        if t.role == "embedding" and len(t.shape) == 2:
            return max(t.shape)
    return 0


def _attention(config: dict[str, Any], shape: Shape) -> Attention:
    layers = shape.layers
    heads = shape.heads
    if not layers:
        return Attention()
    rank = _int(config, "kv_lora_rank")
    if rank:  # DeepSeek V2/V3 multi-head latent attention caches one compressed vector per token
        rope = _int(config, "qk_rope_head_dim")
        return Attention(
            kind="mla",
            layers=layers,
            kv_heads=1,
            head_dim=rank + rope,
            latent=rank + rope,
            known=True,
        )
    if not heads:
        return Attention()
    kv_heads = _int(config, "num_key_value_heads", "n_kv_heads", "num_kv_heads") or heads
    if config.get("multi_query") is True:  # Falcon-7B, StarCoder: one KV head
        kv_heads = 1
    # head_dim from the config when it says so: hidden/heads is wrong for Qwen3, Gemma, Mistral-Nemo
    head_dim = _int(config, "head_dim", "kv_channels") or (
        shape.hidden // heads if shape.hidden else 0
    )
    if not head_dim:
        return Attention()
    full, sliding, window = _sliding_split(config, layers)
    return Attention(
        kind="mha",
        layers=full,
        sliding_layers=sliding,
        window=window,
        kv_heads=kv_heads,
        head_dim=head_dim,
        known=True,
    )


def _sliding_split(config: dict[str, Any], layers: int) -> tuple[int, int, int]:
    """(full-attention layers, sliding-window layers, window) as the config lays them out."""
    window = _int(config, "sliding_window", "attention_window")
    types = config.get("layer_types")
    if isinstance(types, list) and types and all(isinstance(t, str) for t in types):
        sliding = sum(1 for t in types[:layers] if t == "sliding_attention")
        full = sum(1 for t in types[:layers] if t in ("full_attention", "attention"))
        # other layer types (linear attention, Mamba) keep a fixed-size state, not a KV cache
        return full, (sliding if window else 0), window if sliding else 0
    if not window or config.get("use_sliding_window") is False:  # Qwen2 names a window it skips
        return layers, 0, 0
    pattern = _int(config, "sliding_window_pattern")
    if pattern:  # Gemma 3: every pattern-th layer is global, the others slide
        full = sum(1 for i in range(layers) if (i + 1) % pattern == 0)
        return full, layers - full, window
    model_type = str(config.get("model_type", ""))
    if model_type.startswith("gemma2") or model_type == "cohere2":
        # Gemma 2 alternates: layer 0 slides, layer 1 is global, …
        full = sum(1 for i in range(layers) if (i + 1) % 2 == 0)
        return full, layers - full, window
    return 0, layers, window  # Mistral 7B v0.1: every layer slides over the same window


# ---------------------------------------------------------------------------- the plan


@dataclass(slots=True)
class KVCache:
    dtype: str
    bytes: int
    layers: int
    kv_heads: int
    head_dim: int
    context: int
    batch: int
    sliding_layers: int = 0
    window: int = 0
    kind: str = "mha"


@dataclass(slots=True)
class Training:
    mode: str
    trainable_params: int
    weights_bytes: int
    gradients_bytes: int
    optimizer_bytes: int
    activations_bytes: int
    total_bytes: int
    per_gpu_bytes: int
    gpus: int = 1
    zero: int = 0
    checkpointing: bool = False
    rank: int = 0


@dataclass(slots=True)
class MemoryPlan:
    params: int
    weights_dtype: str
    weights_bytes: int
    kv_cache: KVCache
    activations_bytes: int
    overhead_bytes: int
    total_bytes: int
    training: Training | None
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        kv = self.kv_cache
        return {
            "params": self.params,
            "weights": {"dtype": self.weights_dtype, "bytes": self.weights_bytes},
            "kv_cache": {
                "dtype": kv.dtype,
                "bytes": kv.bytes,
                "layers": kv.layers,
                "kv_heads": kv.kv_heads,
                "head_dim": kv.head_dim,
                "context": kv.context,
                "batch": kv.batch,
            },
            "activations_bytes": self.activations_bytes,
            "overhead_bytes": self.overhead_bytes,
            "total_bytes": self.total_bytes,
            "training": None
            if self.training is None
            else {
                "mode": self.training.mode,
                "trainable_params": self.training.trainable_params,
                "weights_bytes": self.training.weights_bytes,
                "gradients_bytes": self.training.gradients_bytes,
                "optimizer_bytes": self.training.optimizer_bytes,
                "activations_bytes": self.training.activations_bytes,
                "total_bytes": self.training.total_bytes,
                "per_gpu_bytes": self.training.per_gpu_bytes,
            },
        }

    @property
    def peak_bytes(self) -> int:
        """What one GPU must hold: the training share when training, else inference."""
        return self.training.per_gpu_bytes if self.training else self.total_bytes


@dataclass(slots=True)
class Options:
    context: int = 4096
    batch: int = 1
    weights: str = "stored"
    kv: str = "fp16"
    overhead_bytes: int = 0
    train: str = ""  # "", "adamw", "adamw8bit", "sgd", "adafactor", "lora" or "lora:R"
    gpus: int = 1
    zero: int = 0
    checkpointing: bool = False


def weights_bytes(checkpoint: Checkpoint, precision: str) -> int:
    """The parameters at `precision`; "stored" is the bytes the file holds for them, with the
    quantisation scales beside integer weights (they are loaded too)."""
    if precision == "stored":
        quant = sum(t.nbytes for t in checkpoint.tensors if t.is_quant_state)
        return checkpoint.totals.param_bytes + quant
    return bytes_at(checkpoint.totals.params, bits_of(precision))


def kv_cache(shape: Shape, precision: str, context: int, batch: int) -> KVCache:
    a = shape.attention
    bits = bits_of(precision)
    if a.kind == "mla":
        values = a.layers * a.latent * context * batch
    else:
        per_position = 2 * a.kv_heads * a.head_dim * batch  # K and V
        values = per_position * (a.layers * context + a.sliding_layers * min(a.window, context))
    return KVCache(
        dtype=canonical_precision(precision),
        bytes=bytes_at(values, bits),
        layers=a.layers,
        kv_heads=a.kv_heads,
        head_dim=a.head_dim,
        context=context,
        batch=batch,
        sliding_layers=a.sliding_layers,
        window=a.window,
        kind=a.kind,
    )


def inference_activations(shape: Shape, context: int, batch: int, bits: float = 16) -> int:
    """Live tensors of one layer's forward pass at a time (prefill of the whole context):
    the residual stream, one attention output and the MLP's hidden activations, plus the last
    position's logits in fp32; the attention scores are never materialised (FlashAttention/SDPA)."""
    if not shape.hidden:
        return 0
    per_token = 2 * shape.hidden + 2 * shape.intermediate
    return bytes_at(batch * context * per_token, bits) + batch * shape.vocab * 4


def training_activations(shape: Shape, context: int, batch: int, checkpointing: bool) -> int:
    """Korthikanti et al. 2022: 34·s·b·h bytes a layer (16-bit, FlashAttention); with full
    activation checkpointing 2·s·b·h a layer stays, plus one layer's 34·s·b·h while it is
    recomputed; plus the logits of every position in fp32 for the loss."""
    if not shape.hidden or not shape.layers:
        return 0
    sbh = context * batch * shape.hidden
    if checkpointing:
        layers = shape.layers * CHECKPOINTED_BYTES_PER_TOKEN_HIDDEN * sbh
        layers += ACTIVATION_BYTES_PER_TOKEN_HIDDEN * sbh
    else:
        layers = shape.layers * ACTIVATION_BYTES_PER_TOKEN_HIDDEN * sbh
    return layers + context * batch * shape.vocab * 4


_LORA_SKIP = re.compile(r"(^|\.)(lm_head|output|embed_out|classifier|score)(\.|$)")


def lora_targets(checkpoint: Checkpoint) -> list[TensorInfo]:
    """The matrices a chosen-rank LoRA adapts: every linear layer's 2-D weight but the output
    head (PEFT's "all-linear")."""
    return [
        t
        for t in checkpoint.tensors
        if t.is_parameter
        and t.role == "linear"
        and t.kind == "weight"
        and len(t.shape) == 2
        and not _LORA_SKIP.search(t.name.removesuffix(".weight"))
    ]


def lora_params(checkpoint: Checkpoint, rank: int) -> int:
    """r × (in + out) per targeted matrix: A is r × in, B is out × r."""
    return sum(rank * (t.shape[0] + t.shape[1]) for t in lora_targets(checkpoint))


def _adapter_params(checkpoint: Checkpoint) -> tuple[int, int]:
    """(parameters, rank) of the LoRA matrices the checkpoint itself holds, or (0, 0)."""
    modules = lora_modules(checkpoint.tensors)
    total, rank = 0, 0
    for parts in modules.values():
        for t in parts.values():
            total += t.numel
            if len(t.shape) == 2:
                rank = max(rank, min(t.shape))
    return total, rank


def _adafactor_state(checkpoint: Checkpoint) -> int:
    """Adafactor (Shazeer & Stern 2018) without momentum: a matrix keeps a row and a column
    second-moment vector (r + c values), anything else one value per element; fp32."""
    values = 0
    for t in checkpoint.tensors:
        if not t.is_parameter:
            continue
        dims = [d for d in t.shape if d != 1]
        if len(dims) >= 2:
            rows = math.prod(dims[:-1])
            values += rows + dims[-1]
        else:
            values += t.numel
    return values * 4


def training_plan(
    checkpoint: Checkpoint, shape: Shape, options: Options, notes: list[str]
) -> Training:
    mode, _, rank_text = options.train.partition(":")
    if mode not in TRAIN_MODES:
        raise ValueError(f"unknown training mode {options.train!r}; use {', '.join(TRAIN_MODES)}")
    psi = checkpoint.totals.params
    weight_precision = options.weights
    if weight_precision == "stored":
        weight_precision = "bf16" if mode != "lora" else "stored"
    base = weights_bytes(checkpoint, weight_precision)
    mixed = bits_of(weight_precision) < 32 if weight_precision != "stored" else True
    activations = training_activations(shape, options.context, options.batch, options.checkpointing)
    rank = 0
    if mode == "lora":
        own, own_rank = _adapter_params(checkpoint)
        if rank_text:
            rank = int(rank_text)
            if rank <= 0:
                raise ValueError("a LoRA rank is a positive integer")
            trainable = lora_params(checkpoint, rank)
        elif own:
            trainable, rank = own, own_rank
            notes.append(f"LoRA: the adapter's own {trainable:,} parameters (rank {rank})")
        else:
            raise ValueError("lora needs a rank (lora:16) unless the checkpoint is a LoRA adapter")
        # PEFT keeps the adapter in fp32 beside the frozen base; AdamW on the adapter only
        weights = base + 4 * trainable
        gradients = 4 * trainable
        optimizer = 8 * trainable
    else:
        trainable = psi
        weights = base
        grad_bits = bits_of(weight_precision) if weight_precision != "stored" else 16
        gradients = bytes_at(psi, grad_bits)
        master = 4 * psi if mixed else 0  # fp32 master weights when training in 16 bits
        if mode == "adamw":
            optimizer = master + 8 * psi  # exp_avg and exp_avg_sq in fp32
        elif mode == "adamw8bit":
            blocks = 2 * math.ceil(psi / BNB_BLOCK)
            optimizer = master + 2 * psi + 4 * blocks
        elif mode == "sgd":
            optimizer = master + 4 * psi  # the momentum buffer
        else:
            optimizer = master + _adafactor_state(checkpoint)
    total = weights + gradients + optimizer + activations
    per_gpu = _zero_share(weights, gradients, optimizer, options.gpus, options.zero) + activations
    return Training(
        mode=mode,
        trainable_params=trainable,
        weights_bytes=weights,
        gradients_bytes=gradients,
        optimizer_bytes=optimizer,
        activations_bytes=activations,
        total_bytes=total,
        per_gpu_bytes=per_gpu,
        gpus=options.gpus,
        zero=options.zero,
        checkpointing=options.checkpointing,
        rank=rank,
    )


def _zero_share(weights: int, gradients: int, optimizer: int, gpus: int, stage: int) -> int:
    """Rajbhandari et al. 2020 (ZeRO), Figure 1: stage 1 partitions the optimizer states across
    the N data-parallel GPUs, stage 2 the gradients too, stage 3 the parameters too."""
    if gpus <= 1 or stage <= 0:
        return weights + gradients + optimizer
    if stage == 1:
        return weights + gradients + math.ceil(optimizer / gpus)
    if stage == 2:
        return weights + math.ceil((gradients + optimizer) / gpus)
    return math.ceil((weights + gradients + optimizer) / gpus)


def plan(checkpoint: Checkpoint, options: Options | None = None) -> MemoryPlan:
    """The memory plan of an opened checkpoint. ValueError for options that make no sense."""
    options = options or Options()
    if options.context <= 0 or options.batch <= 0:
        raise ValueError("context and batch are positive integers")
    if options.gpus <= 0 or options.zero not in (0, 1, 2, 3):
        raise ValueError("gpus is a positive integer and the ZeRO stage 0, 1, 2 or 3")
    if options.weights != "stored":
        bits_of(options.weights)  # ValueError for an unknown name
    shape = model_shape(checkpoint)
    notes = list(shape.notes)
    weights = weights_bytes(checkpoint, options.weights)
    kv = kv_cache(shape, options.kv, options.context, options.batch)
    activations = inference_activations(shape, options.context, options.batch)
    total = weights + kv.bytes + activations + options.overhead_bytes
    training = training_plan(checkpoint, shape, options, notes) if options.train else None
    if training is not None:
        training.per_gpu_bytes += options.overhead_bytes
        training.total_bytes += options.overhead_bytes
    return MemoryPlan(
        params=checkpoint.totals.params,
        weights_dtype=canonical_precision(options.weights),
        weights_bytes=weights,
        kv_cache=kv,
        activations_bytes=activations,
        overhead_bytes=options.overhead_bytes,
        total_bytes=total,
        training=training,
        notes=notes,
    )


def _context_words(context: int) -> str:
    return f"{context // 1024}k" if context % 1024 == 0 else f"{context:,}"


def fits_sentence(memory: MemoryPlan) -> str:
    """ "fits on one 24 GB GPU at 8k context with int4 weights", or says it does not."""
    need = memory.peak_bytes
    kv = memory.kv_cache
    what = f"at {_context_words(kv.context)} context with {memory.weights_dtype} weights"
    if kv.batch > 1:
        what += f", batch {kv.batch}"
    if memory.training is not None:
        t = memory.training
        what = f"to train ({t.mode}) " + what
        if t.gpus > 1:
            what += f", per GPU of {t.gpus} with ZeRO-{t.zero}" if t.zero else f", on {t.gpus} GPUs"
    for size in GPU_SIZES_GB:
        if need <= size * 1e9:
            return f"fits on one {size} GB GPU {what}"
    return f"needs {need / 1e9:,.1f} GB {what}: more than one {GPU_SIZES_GB[-1]} GB GPU holds"


def plan_text(memory: MemoryPlan) -> str:
    from core.units import exact

    def row(label: str, n: int, extra: str = "") -> str:
        return f"{label:<22}{n / GIB:>10,.2f} GiB  ({exact(n)} bytes){extra}"

    kv = memory.kv_cache
    layout = f"{kv.layers} layers × {kv.kv_heads} KV heads × head_dim {kv.head_dim}"
    if kv.kind == "mla":
        layout = f"{kv.layers} layers × latent {kv.head_dim} (MLA)"
    if kv.sliding_layers:
        layout += f" + {kv.sliding_layers} sliding layers holding {kv.window:,}"
    lines = [
        f"{'parameters':<22}{exact(memory.params):>14}",
        row(f"weights ({memory.weights_dtype})", memory.weights_bytes),
        row(f"KV cache ({kv.dtype})", kv.bytes),
        f"{'':<24}{layout}, context {kv.context:,}, batch {kv.batch}",
        row("activations", memory.activations_bytes),
        row("overhead", memory.overhead_bytes),
        row("inference total", memory.total_bytes),
    ]
    if memory.training is not None:
        t = memory.training
        rank = f", r={t.rank}" if t.rank else ""
        lines.append(f"training ({t.mode}{rank}): {exact(t.trainable_params)} trainable parameters")
        lines.append(row("  weights", t.weights_bytes))
        lines.append(row("  gradients", t.gradients_bytes))
        lines.append(row("  optimizer", t.optimizer_bytes))
        checkpointed = " (checkpointed)" if t.checkpointing else ""
        lines.append(row("  activations", t.activations_bytes, checkpointed))
        lines.append(row("  total", t.total_bytes))
        lines.append(row("  per GPU", t.per_gpu_bytes, f"  {t.gpus} GPU(s), ZeRO stage {t.zero}"))
    lines.append(fits_sentence(memory))
    lines.extend(f"note: {n}" for n in memory.notes)
    return "\n".join(lines) + "\n"
