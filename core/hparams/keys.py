"""Known hyperparameters: their common spellings, group, expected type, limits and a one-line
explanation, as a practitioner would say it.

`spec_for("per_device_train_batch_size")` finds the batch-size spec whichever tool wrote the key.
The match is on the last component of a key's path, lower-cased (`model.optim.lr` → `lr`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GROUPS = (
    "architecture",
    "optimisation",
    "schedule",
    "regularisation",
    "data",
    "precision",
    "inference",
    "training state",
)


@dataclass(frozen=True, slots=True)
class KeySpec:
    canonical: str
    group: str
    explanation: str
    aliases: tuple[str, ...] = ()
    kind: str = ""  # "int", "float", "number" (either), "bool", "str" or "" (whatever it holds)
    minimum: float | None = None
    maximum: float | None = None
    above_zero: bool = False  # strictly positive (a batch size of 0 is as wrong as -1)
    choices: tuple[str, ...] = ()  # known values, offered in an editor
    strict: bool = False  # only `choices` are valid
    unset: float | None = None  # a value meaning "not set" that the limits let through (-1)


def _k(canonical: str, group: str, explanation: str, *aliases: str, **limits: object) -> KeySpec:
    return KeySpec(canonical, group, explanation, aliases, **limits)  # type: ignore[arg-type]


OPTIMIZERS = (
    "adamw",
    "adam",
    "sgd",
    "adafactor",
    "lion",
    "rmsprop",
    "adagrad",
    "lamb",
    "adamw_torch",
    "adamw_torch_fused",
    "adamw_8bit",
    "paged_adamw_8bit",
)
SCHEDULERS = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "reduce_lr_on_plateau",
    "onecycle",
    "step",
)

SPECS: tuple[KeySpec, ...] = (
    # architecture
    _k(
        "hidden_size",
        "architecture",
        "Width of every token's vector; sets the size of most weight matrices.",
        "n_embd",
        "d_model",
        "hidden_dim",
        "embed_dim",
        "dim",
        "n_embed",
        "embedding_length",
        kind="int",
        above_zero=True,
    ),
    _k(
        "num_layers",
        "architecture",
        "How many transformer blocks are stacked; depth of the network.",
        "num_hidden_layers",
        "n_layer",
        "n_layers",
        "num_layers",
        "depth",
        "block_count",
        "num_decoder_layers",
        "layers",
        "num_encoder_layers",
        "n_blocks",
        kind="int",
        above_zero=True,
    ),
    _k(
        "num_heads",
        "architecture",
        "Attention heads per layer; the hidden size is split among them.",
        "num_attention_heads",
        "n_head",
        "n_heads",
        "nhead",
        "head_count",
        kind="int",
        above_zero=True,
    ),
    _k(
        "num_kv_heads",
        "architecture",
        "Key/value heads (grouped-query attention); fewer means a smaller KV cache.",
        "num_key_value_heads",
        "n_kv_heads",
        "head_count_kv",
        "n_head_kv",
        kind="int",
        above_zero=True,
    ),
    _k(
        "head_dim",
        "architecture",
        "Width of each attention head; usually the hidden size divided by the heads.",
        "attention_head_dim",
        "d_head",
        "d_kv",  # T5: may differ from d_model / heads
        "key_length",
        "head_size",
        kind="int",
        above_zero=True,
    ),
    _k(
        "intermediate_size",
        "architecture",
        "Width of the feed-forward layer inside each block, usually 2.7–4× the hidden size.",
        "n_inner",
        "ffn_dim",
        "dim_feedforward",
        "d_ff",
        "feed_forward_length",
        "ffn_hidden_size",
        "mlp_dim",
        kind="int",
        above_zero=True,
    ),
    _k(
        "vocab_size",
        "architecture",
        "Number of tokens the model knows; rows of the embedding matrix.",
        "n_vocab",
        "ntokens",
        "ntoken",
        "vocab",
        kind="int",
        above_zero=True,
    ),
    _k(
        "max_position_embeddings",
        "architecture",
        "Longest sequence the position encoding was built for (the context length).",
        "n_positions",
        "block_size",
        "context_length",
        "max_seq_len",
        "n_ctx",
        "seq_length",
        kind="int",
        above_zero=True,
    ),
    _k(
        "tie_word_embeddings",
        "architecture",
        "Output layer reuses the input embedding matrix instead of having its own.",
        "tie_embeddings",
        "tied_embeddings",
        "share_embeddings",
        kind="bool",
    ),
    _k(
        "hidden_act",
        "architecture",
        "Non-linearity in the feed-forward layers.",
        "activation",
        "activation_function",
        "act_fn",
        kind="str",
        choices=("gelu", "gelu_new", "relu", "silu", "swiglu", "tanh", "gelu_pytorch_tanh"),
    ),
    _k(
        "norm_eps",
        "architecture",
        "Small constant added inside layer norms to avoid dividing by zero.",
        "layer_norm_eps",
        "layer_norm_epsilon",
        "rms_norm_eps",
        "norm_epsilon",
        "layer_norm_rms_epsilon",  # GGUF: <arch>.attention.layer_norm_rms_epsilon
        kind="float",
        minimum=0,
    ),
    _k(
        "rope_theta",
        "architecture",
        "Base frequency of rotary position embeddings; larger stretches the usable context.",
        "rope_freq_base",
        "freq_base",  # GGUF: <arch>.rope.freq_base
        kind="float",
        above_zero=True,
    ),
    # optimisation
    _k(
        "learning_rate",
        "optimisation",
        "Step size of each weight update; the single most important knob.",
        "lr",
        "base_lr",
        "max_lr",
        "peak_lr",
        "learning-rate",
        "lr0",  # Ultralytics
        kind="float",
        minimum=0,
    ),
    _k(
        "optimizer",
        "optimisation",
        "Algorithm that turns gradients into weight updates.",
        "optim",
        "optimizer_name",
        "opt",
        "optimizer_type",
        kind="str",
        choices=OPTIMIZERS,
    ),
    _k(
        "weight_decay",
        "regularisation",
        "Pulls weights toward zero each step (L2-style); keeps them small.",
        "wd",
        "weight-decay",
        kind="float",
        minimum=0,
    ),
    _k(
        "momentum",
        "optimisation",
        "How much of the previous update carries over (SGD).",
        kind="float",
        minimum=0,
        maximum=1,
    ),
    _k(
        "adam_beta1",
        "optimisation",
        "Adam's decay for the running mean of gradients (usually 0.9).",
        "beta1",
        kind="float",
        minimum=0,
        maximum=1,
    ),
    _k(
        "adam_beta2",
        "optimisation",
        "Adam's decay for the running mean of squared gradients (0.95–0.999).",
        "beta2",
        kind="float",
        minimum=0,
        maximum=1,
    ),
    _k("betas", "optimisation", "Adam's two decay rates (mean, squared mean) as a pair."),
    _k(
        "adam_epsilon",
        "optimisation",
        "Tiny constant in Adam's denominator; guards against dividing by ~0.",
        "adam_eps",
        kind="float",
        minimum=0,
    ),
    _k(
        "max_grad_norm",
        "optimisation",
        "Gradients are scaled down when their norm exceeds this (clipping).",
        "gradient_clip_val",
        "clip_grad_norm",
        "grad_clip",
        "clip_grad",
        kind="float",
        minimum=0,
    ),
    _k(
        "gradient_accumulation_steps",
        "optimisation",
        "Batches summed before each update; multiplies the effective batch size.",
        "accumulate_grad_batches",
        "grad_accum",
        "gradient_accumulation",
        kind="int",
        above_zero=True,
    ),
    _k(
        "seed",
        "optimisation",
        "Random seed; the same seed repeats initialisation and data order.",
        "random_seed",
        "manual_seed",
        kind="int",
    ),
    # schedule
    _k(
        "epochs",
        "schedule",
        "Passes over the whole training set.",
        "max_epochs",
        "num_train_epochs",
        "num_epochs",
        "n_epochs",
        "epoch_count",
        kind="number",  # HF's num_train_epochs is a float (3.0), Lightning's max_epochs an int
        minimum=0,
        unset=-1,  # Lightning: max_epochs=-1 trains until stopped
    ),
    _k(
        "max_steps",
        "schedule",
        "Stop after this many updates (overrides epochs when set; -1 means unset).",
        "total_steps",
        "train_steps",
        "num_training_steps",
        "max_iters",
        kind="int",
        unset=-1,
    ),
    _k(
        "warmup_steps",
        "schedule",
        "Updates over which the learning rate ramps up from ~0.",
        "num_warmup_steps",
        "warmup_iters",
        "warmup",
        kind="int",
        minimum=0,
    ),
    _k(
        "warmup_epochs",
        "schedule",
        "Epochs over which the learning rate ramps up from ~0.",
        kind="number",
        minimum=0,
    ),
    _k(
        "warmup_ratio",
        "schedule",
        "Fraction of training spent warming up the learning rate.",
        kind="float",
        minimum=0,
        maximum=1,
    ),
    _k(
        "lr_scheduler_type",
        "schedule",
        "Shape of the learning-rate curve over training.",
        "scheduler",
        "lr_scheduler",
        "lr_schedule",
        "sched",
        "schedule",
        kind="str",
        choices=SCHEDULERS,
    ),
    _k(
        "min_lr",
        "schedule",
        "Floor the schedule decays the learning rate to.",
        "lr_min",
        "final_lr",
        kind="float",
        minimum=0,
    ),
    # regularisation
    _k(
        "dropout",
        "regularisation",
        "Fraction of activations zeroed at random while training.",
        "hidden_dropout",
        "hidden_dropout_prob",
        "dropout_rate",
        "resid_pdrop",
        "embd_pdrop",
        "drop_rate",
        "p_dropout",
        kind="float",
        minimum=0,
        maximum=1,
    ),
    _k(
        "attention_dropout",
        "regularisation",
        "Dropout on the attention weights.",
        "attention_probs_dropout_prob",
        "attn_pdrop",
        "attn_dropout",
        kind="float",
        minimum=0,
        maximum=1,
    ),
    _k(
        "label_smoothing",
        "regularisation",
        "Softens one-hot targets so the model is less over-confident.",
        "label_smoothing_factor",
        "smoothing",
        kind="float",
        minimum=0,
        maximum=1,
    ),
    _k(
        "drop_path_rate",
        "regularisation",
        "Stochastic depth: chance of skipping a whole residual block.",
        "drop_path",
        kind="float",
        minimum=0,
        maximum=1,
    ),
    # data
    _k(
        "batch_size",
        "data",
        "Examples per update on one device; larger is smoother but needs more memory.",
        "bs",
        "per_device_train_batch_size",
        "train_batch_size",
        "batch",
        "micro_batch_size",
        "per_gpu_train_batch_size",
        kind="int",
        above_zero=True,
        unset=-1,  # Ultralytics: batch=-1 picks the largest batch that fits (AutoBatch)
    ),
    _k(
        "eval_batch_size",
        "data",
        "Examples per step when evaluating; affects speed only.",
        "per_device_eval_batch_size",
        "val_batch_size",
        "test_batch_size",
        kind="int",
        above_zero=True,
    ),
    _k(
        "seq_len",
        "data",
        "Tokens per training example.",
        "max_seq_length",
        "sequence_length",
        "context_len",
        kind="int",
        above_zero=True,
    ),
    _k(
        "image_size",
        "data",
        "Side of the images the model was trained on, in pixels.",
        "img_size",
        "imgsz",
        "input_size",
        "resolution",
        kind="int",
        above_zero=True,
    ),
    _k(
        "num_workers",
        "data",
        "Processes loading data in parallel; speed only, no effect on results.",
        "dataloader_num_workers",
        "workers",
        kind="int",
        minimum=0,
    ),
    _k(
        "dataset",
        "data",
        "What the model was trained on.",
        "dataset_name",
        "data_path",
        "train_file",
        kind="str",
    ),
    # precision
    _k(
        "precision",
        "precision",
        "Number format used for training maths (e.g. bf16-mixed, 32-true).",
        "mixed_precision",
        "amp_dtype",
        kind="",
        choices=("32-true", "16-mixed", "bf16-mixed", "bf16-true", "16-true", "64-true"),
    ),
    _k(
        "torch_dtype",
        "precision",
        "Number format the weights are stored and loaded in.",
        "dtype",
        kind="str",
        choices=("float32", "bfloat16", "float16"),
    ),
    _k(
        "bf16",
        "precision",
        "Train with bfloat16 mixed precision (Hugging Face Trainer).",
        kind="bool",
    ),
    _k(
        "fp16",
        "precision",
        "Train with float16 mixed precision and loss scaling.",
        "amp",
        kind="bool",
    ),
    # inference
    _k(
        "max_length",
        "inference",
        "Longest sequence generation may produce, the prompt included.",
        kind="int",
        minimum=0,
    ),
    _k(
        "temperature",
        "inference",
        "Sampling sharpness: below 1 more focused, above 1 more random.",
        kind="float",
        minimum=0,
    ),
    _k(
        "top_p",
        "inference",
        "Sample only from the most likely tokens whose probabilities add up to p.",
        kind="float",
        minimum=0,
        maximum=1,
    ),
    _k(
        "top_k",
        "inference",
        "Sample only from the k most likely tokens (0 means no limit).",
        kind="int",
        minimum=0,
    ),
    _k(
        "max_new_tokens",
        "inference",
        "Longest reply generation will produce.",
        kind="int",
        minimum=0,
    ),
    _k(
        "repetition_penalty",
        "inference",
        "Above 1 discourages repeating tokens already generated.",
        kind="float",
        above_zero=True,
    ),
    _k(
        "do_sample",
        "inference",
        "Sample tokens at random (true) or always take the most likely (false).",
        kind="bool",
    ),
    _k(
        "num_beams",
        "inference",
        "Beam-search width; 1 means greedy or sampling.",
        kind="int",
        above_zero=True,
    ),
    # training state
    _k(
        "global_step",
        "training state",
        "Weight updates done when this checkpoint was saved.",
        "step",
        "iteration",
        "iter",
        "num_updates",
        kind="int",
        minimum=0,
    ),
    _k(
        "epoch",
        "training state",
        "Epochs completed when this checkpoint was saved.",
        "current_epoch",
        minimum=0,
    ),
    _k(
        "best_metric",
        "training state",
        "Best validation score seen so far.",
        "best_score",
        "best_val_loss",
        "best_loss",
        "best_acc",
    ),
    # adapters
    _k(
        "lora_r",
        "architecture",
        "LoRA rank: width of the low-rank update matrices.",
        "r",
        "lora_rank",
        kind="int",
        above_zero=True,
    ),
    _k(
        "lora_alpha",
        "architecture",
        "LoRA scale; the update is multiplied by alpha / r.",
        minimum=0,
    ),
    _k(
        "lora_dropout",
        "regularisation",
        "Dropout on the LoRA branch's input.",
        kind="float",
        minimum=0,
        maximum=1,
    ),
)

_BY_NAME: dict[str, KeySpec] = {}
for _spec in SPECS:
    for _name in (_spec.canonical, *_spec.aliases):
        _BY_NAME.setdefault(_name.lower(), _spec)


def leaf_name(path: tuple | str) -> str:
    """The last component of a key path, without list indices: ("model", "lr") → "lr"."""
    parts = path.split(".") if isinstance(path, str) else [str(p) for p in path]
    for part in reversed(parts):
        if not part.isdigit():
            return part.split(".")[-1].split("/")[-1]
    return ""


def spec_for(path: tuple | str) -> KeySpec | None:
    """The known key a path names (by its last component), or None."""
    return _BY_NAME.get(leaf_name(path).lower())


def canonical(path: tuple | str) -> str | None:
    spec = spec_for(path)
    return spec.canonical if spec else None


def group_of(path: tuple | str, value: Any = None) -> str:
    """The group a key is shown in: its known key's, unless the value is not what that key
    holds (Keras `config.layers` is a list of layer configs, not a layer count)."""
    spec = spec_for(path)
    if spec is None or (spec.kind and isinstance(value, list | dict)):
        return "other"
    return spec.group
