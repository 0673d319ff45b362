"""What `info` prints: a readable summary with the module tree, or the JSON for machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core import units
from core.json_strict import MAX_INT_BITS, huge_int_text
from core.model import CATEGORIES, Checkpoint, ModuleNode, TensorInfo

MEMORY_LABELS = {
    "stored": "as stored",
    "fp32": "fp32",
    "bf16": "bf16",
    "fp16": "fp16",
    "int8": "int8",
    "int4": "int4",
    "adam_training": "Adam training",
}


def _n(value: int) -> int | str:
    """A count as JSON can hold it: a crafted header's count past Python's 4,300-digit limit
    for printing an int becomes its magnitude in words."""
    return huge_int_text(value) if value.bit_length() > MAX_INT_BITS else value


def _counts(mapping: dict[str, int]) -> dict[str, int | str]:
    return {key: _n(value) for key, value in mapping.items()}


def info_json(checkpoint: Checkpoint) -> dict[str, Any]:
    totals = checkpoint.totals
    return {
        "path": str(checkpoint.path),
        "format": checkpoint.format,
        "files": [str(f) for f in checkpoint.files],
        "alternatives": [str(f) for f in checkpoint.alternatives],
        "file_bytes": checkpoint.file_bytes,
        "total_params": _n(totals.params),
        "total_buffers": _n(totals.buffers),
        "total_quant_state": _n(totals.quant_state),
        "total_bytes": _n(totals.nbytes),
        "counts": _counts(totals.counts),
        "roles": _counts(totals.roles),
        "categories": _counts(totals.categories),
        "dtypes": _counts(totals.dtypes),
        "optimizer_state": _n(totals.optimizer_state),
        "copies": _n(totals.copies),
        "training_state": _n(totals.training_state),
        "memory": _counts(checkpoint.memory),
        "tensors": [
            {
                "name": t.name,
                "shape": list(t.shape),
                "dtype": t.dtype,
                "numel": _n(t.numel),
                "kind": t.kind,
                "role": t.role,
                "section": t.section,
                **({"tied_to": t.tied_to} if t.tied_to else {}),
                **({"data": t.truncated} if t.truncated else {}),
                **({"ggml_shape": list(stored)} if (stored := stored_shape(checkpoint, t)) else {}),
            }
            for t in checkpoint.tensors
        ],
        "tree": _node_json(checkpoint.tree),
        "hyperparameters": checkpoint.hyperparams,
        "metadata": checkpoint.metadata,
        "facts": checkpoint.facts,
        "warnings": list(checkpoint.warnings),
    }


def stored_shape(checkpoint: Checkpoint, t: TensorInfo) -> tuple[int, ...] | None:
    """The shape in the file's own order where it differs from the PyTorch order shown: GGUF
    lists ggml's fastest-varying dimension first. None for formats that store PyTorch's order."""
    if checkpoint.format == "gguf":
        return tuple(reversed(t.shape))
    return None


# JSON readers refuse deep nesting (Python's own at about 500 levels of this tree): a name with a
# thousand dots nests its modules this deep at most, the counts of what lies below still included.
JSON_TREE_DEPTH = 100


def _node_json(root: ModuleNode) -> dict[str, Any]:
    """The tree as nested objects, made by a loop rather than a recursion as deep as a name."""

    def fields(node: ModuleNode) -> dict[str, Any]:
        return {
            "name": node.name,
            "path": node.path,
            "weight": _n(node.weight),
            "bias": _n(node.bias),
            "other": _n(node.other),
            "buffer": _n(node.buffer),
            "quant": _n(node.quant),
            "params": _n(node.params),
            "children": [],
        }

    top = fields(root)
    pending = [(root, top, 0)]
    while pending:
        node, made, level = pending.pop()
        if level >= JSON_TREE_DEPTH and node.children:
            made["children_not_shown"] = len(node.children)  # counted above, not listed
            continue
        for child in node.children.values():
            child_json = fields(child)
            made["children"].append(child_json)
            pending.append((child, child_json, level + 1))
    return top


def info_text(checkpoint: Checkpoint, depth: int = 3) -> str:
    totals = checkpoint.totals
    lines = [
        f"{checkpoint.path}",
        f"  format      {checkpoint.format}"
        + "".join(f" · {k} {v}" for k, v in checkpoint.facts.items()),
        f"  files       {len(checkpoint.files)} ({units.size(checkpoint.file_bytes)})",
        (
            f"  parameters  {units.count(totals.params)} ({units.exact(totals.params)})"
            f" in {units.exact(totals.tensors)} tensors"
        ),
        f"  buffers     {units.count(totals.buffers)} ({units.exact(totals.buffers)})",
        *(
            [
                f"  quant       {units.count(totals.quant_state)} "
                f"({units.exact(totals.quant_state)}) elements of quantisation metadata "
                "(scales, zero points): not parameters"
            ]
            if totals.quant_state
            else []
        ),
        "  dtypes      "
        + ", ".join(
            f"{d} {units.count(n)}" for d, n in sorted(totals.dtypes.items(), key=lambda x: -x[1])
        ),
    ]
    split = "  ".join(
        f"{name} {units.count(totals.categories.get(name, 0))}"
        f" ({units.percent(totals.categories.get(name, 0), totals.params)}%)"
        for name in CATEGORIES
        if totals.categories.get(name) and name not in ("buffers", "quantisation")
    )
    lines.append(f"  split       {split}")
    if totals.optimizer_state:
        lines.append(
            f"  optimizer   {units.count(totals.optimizer_state)} elements of optimizer state"
        )
    if totals.copies:
        lines.append(f"  copies      {units.count(totals.copies)} elements in EMA/other copies")
    if totals.training_state:
        lines.append(f"  training    {units.count(totals.training_state)} elements of other state")
    if totals.tied:
        lines.append(f"  tied        {totals.tied} tensors share another's storage (counted once)")
    lines.append(
        "  memory      "
        + " · ".join(f"{MEMORY_LABELS[k]} {units.size(v)}" for k, v in checkpoint.memory.items())
    )
    for key, value in list(checkpoint.metadata.items())[:12]:
        text = str(value)
        lines.append(f"  meta        {key}: {text if len(text) < 90 else text[:87] + '…'}")
    for source, values in checkpoint.hyperparams.items():
        lines.append(f"  hparams     {source}: {len(values)} keys")
    if checkpoint.alternatives:
        lines.append(
            "  note        the folder also holds alternative copies of this model, not opened: "
            + ", ".join(_beside(checkpoint, f) for f in checkpoint.alternatives)
        )
    for warning in checkpoint.warnings:
        lines.append(f"  warning     {warning}")
    lines.append("")
    lines.extend(_tree_table(checkpoint, depth))
    return "\n".join(lines) + "\n"


def _beside(checkpoint: Checkpoint, file: Path) -> str:
    """An alternative's name relative to the opened file's folder (`onnx/model.onnx`)."""
    try:
        return file.relative_to(checkpoint.path.parent).as_posix()
    except ValueError:
        return str(file)


_HEADER = (
    "Layer",
    "Role",
    "Weights",
    "Biases",
    "Other",
    "Buffers",
    "Quant",
    "Params",
    "%",
    "Bytes",
    "State",
)
MAX_BLOCK_ROWS = 8
MAX_TEXT_DEPTH = 100
MAX_TENSOR_ROWS = 20  # tensors beside modules shown one per row, then summed up in a note


def _tree_table(checkpoint: Checkpoint, depth: int) -> list[str]:
    totals = checkpoint.totals
    # "State": elements that are not the model's (optimizer moments, EMA copies, callbacks);
    # "Quant": scales and zero points of quantised weights. Each only when the file has some.
    hidden = set()
    if not (totals.optimizer_state or totals.copies or totals.training_state):
        hidden.add(_HEADER.index("State"))
    if not totals.quant_state:
        hidden.add(_HEADER.index("Quant"))
    keep = [i for i in range(len(_HEADER)) if i not in hidden]
    header = tuple(_HEADER[i] for i in keep)
    rows: list[tuple[str, ...]] = []
    # `_rows` recurses once per level shown: a few levels are what a table can show anyway
    _rows(checkpoint.tree, 0, min(depth, MAX_TEXT_DEPTH), totals.params, rows)
    rows = [tuple(r[i] for i in keep) for r in rows]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    widths[0] = min(widths[0], 60)

    def fmt(row: tuple[str, ...]) -> str:
        first = row[0] if len(row[0]) <= widths[0] else row[0][: widths[0] - 1] + "…"
        cells = [first.ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [c.rjust(w) for c, w in zip(row[2:], widths[2:], strict=True)]
        return "  ".join(cells).rstrip()

    rule = "─" * len(fmt(header))
    return [fmt(header), rule, *(fmt(r) for r in rows), rule]


def _cell(n: int) -> str:
    return units.count(n) if n else "–"


def _row(label: str, node: ModuleNode, total: int) -> tuple[str, ...]:
    tied = node.tensors and not node.children and all(t.tied_to for t in node.tensors)
    return (
        label,
        "tied" if tied else node.role,
        _cell(node.weight),
        _cell(node.bias),
        _cell(node.other),
        _cell(node.buffer),
        _cell(node.quant),
        _cell(node.params),
        units.percent(node.params, total) if node.params else "–",
        units.size(node.nbytes),
        _cell(node.state),
    )


def _tensor_row(label: str, t: TensorInfo, total: int) -> tuple[str, ...]:
    """A tensor that sits beside modules (or at the top): its own row, so the rows add up."""
    counted = 0 if t.tied_to else t.numel
    parameter = counted if t.is_parameter else 0
    return (
        label,
        "tied" if t.tied_to else t.role,
        _cell(parameter if t.kind == "weight" else 0),
        _cell(parameter if t.kind == "bias" else 0),
        _cell(parameter if t.kind not in ("weight", "bias") else 0),
        _cell(counted if t.is_buffer else 0),
        _cell(counted if t.is_quant_state else 0),
        _cell(parameter),
        units.percent(parameter, total) if parameter else "–",
        units.size(0 if t.tied_to else t.nbytes),
        _cell(counted if not (t.is_parameter or t.is_buffer or t.is_quant_state) else 0),
    )


def _note(text: str) -> tuple[str, ...]:
    return (text,) + ("",) * (len(_HEADER) - 1)


def _rows(
    node: ModuleNode, level: int, depth: int, total: int, rows: list[tuple[str, ...]]
) -> None:
    indent = "  " * level
    if node.tensors and (node.children or level == 0):
        for t in node.tensors[:MAX_TENSOR_ROWS]:
            rows.append(_tensor_row(f"{indent}{t.name.rpartition('.')[2]}", t, total))
        if len(node.tensors) > MAX_TENSOR_ROWS:
            rows.append(_note(f"{indent}… {len(node.tensors) - MAX_TENSOR_ROWS} more tensors"))
    for child in node.children.values():
        label = f"{indent}{child.name}" + (f" ×{child.repeat}" if child.repeat > 1 else "")
        rows.append(_row(label, child, total))
        if level + 1 >= depth:
            continue
        if child.repeat > 1:
            blocks = list(child.children.values())
            first = blocks[0]
            rows.append(_row(f"{indent}  {first.name}", first, total))
            if level + 2 < depth:
                _rows(first, level + 2, depth, total, rows)
            if all(_same_shape(first, b) for b in blocks[1:]):
                rows.append(
                    _note(f"{indent}  {blocks[1].name}…{blocks[-1].name} same as {first.name}")
                )
                continue
            for block in blocks[1:MAX_BLOCK_ROWS]:
                rows.append(_row(f"{indent}  {block.name}", block, total))
            if len(blocks) > MAX_BLOCK_ROWS:
                rows.append(_note(f"{indent}  … {len(blocks) - MAX_BLOCK_ROWS} more"))
        else:
            _rows(child, level + 1, depth, total, rows)


def _same_shape(a: ModuleNode, b: ModuleNode) -> bool:
    def key(n: ModuleNode) -> tuple[int, ...]:
        return (n.params, n.buffer, n.quant, n.state, n.nbytes, n.tensor_count)

    return key(a) == key(b)
