"""Find every place a checkpoint's hyperparameters live, inside the file and beside it.

Readers put what they find inside the file(s) into `inside` (Lightning `hyper_parameters`, a
training dict's `args` Namespace, safetensors `__metadata__` …). This module adds the files that
training tools write next to the weights: Hugging Face `config.json`, `generation_config.json`,
`adapter_config.json`, `trainer_state.json`, `training_args.bin`; Lightning `hparams.yaml` (also in
`lightning_logs/version_N/`); Hydra `.hydra/config.yaml` and `overrides.yaml`; a W&B
`config.yaml`; timm/Ultralytics `args.yaml`. Each stays a separate source, named after its file
(with the relative path when it is not directly beside the weights), so every value keeps its
provenance. Nothing here runs code from a file: YAML is read safely, pickles inertly.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path
from typing import Any

# What a training run had reached when it saved, not how it was set up: the panel shows these
# (they are facts of the checkpoint), a training-config export leaves them out. Top-level keys
# only: a scheduler's own `step` inside a section is a setting.
RUN_STATE_KEYS = frozenset(
    {
        "epoch",
        "current_epoch",
        "global_step",
        "step",
        "pytorch-lightning_version",
        "lightning_version",
        "hparams_name",
        "lr_schedulers",
        "loops",
        "best_metric",
        "best_model_checkpoint",
        "total_flos",
        "log_history",
        "trial_name",
        "trial_params",
        "is_hyper_param_search",
        "is_local_process_zero",
        "is_world_process_zero",
    }
)


def is_run_state(path: tuple[str, ...]) -> bool:
    """Whether a key (as a path of names) is run state rather than a setting."""
    return len(path) == 1 and path[0] in RUN_STATE_KEYS


MAX_CONFIG_BYTES = 16 << 20  # a config bigger than this is not a config: skip it, say so
JSON_FILES = (
    "config.json",
    "params.json",  # Meta's and Mistral's own checkpoints
    "generation_config.json",
    "adapter_config.json",
    "trainer_state.json",
)
YAML_FILES = ("hparams.yaml", "args.yaml", "config.yaml", "hyp.yaml", "opt.yaml")  # + YOLOv5
_VERSION = re.compile(r"version_(\d+)$")


def discover(
    path: Path,
    files: list[Path],
    inside: dict[str, dict],
    warnings: list[str] | None = None,
    read_from: list[Path] | None = None,
) -> dict[str, dict]:
    """All hyperparameter sources: `inside` first, then the files found beside or above `path`.

    Problems with a file beside the checkpoint (too big, malformed) are appended to `warnings`
    and the file is skipped; they never stop the checkpoint from opening. The config files that
    found (read, or skipped as unreadable) are appended to `read_from`.
    """
    notes = warnings if warnings is not None else []
    sources: dict[str, dict] = {}
    for name, value in inside.items():
        if value:
            try:
                sources[name] = plain(value)
            except ValueError as error:
                notes.append(f"{name}: {error}; not shown")
    folder = path if path.is_dir() else path.parent
    try:
        candidates = _candidates(folder)
    except OSError as error:  # an unreadable folder: the weights still open
        notes.append(f"{folder.name}: could not look for configs beside it ({error})")
        return sources
    for source, file in candidates:
        try:
            if source in sources or not file.is_file():
                continue
        except OSError:
            continue
        if read_from is not None:
            read_from.append(file)  # a config, even one that cannot be read: never export over it
        data = _read(file, notes)
        if data is None:
            continue
        wandb = file.name == "config.yaml" and ".hydra" not in source and _is_wandb(data)
        try:
            data = plain(_shape(file, data, wandb))
        except (ValueError, RecursionError) as error:  # a YAML alias loop or bomb
            notes.append(f"{file.name}: {error}; skipped")
            continue
        if isinstance(data, dict) and data:
            sources[f"wandb {source}" if wandb else source] = data
    return sources


MAX_VALUES = 200_000  # values in one source; more is an alias bomb, not a config


def plain(value: Any) -> Any:
    """Only what every export format and `--json` can hold: mappings with text keys, lists,
    text, numbers, bools and null. Dates become their ISO text, bytes their text, sets and tuples
    lists, numpy scalars Python numbers; anything else its `str`.

    YAML aliases can make a structure refer to itself (`a: &x [*x]`) or share one list a
    billion times over in 500 bytes; both raise ValueError instead of recursing or expanding."""
    return _plain(value, [MAX_VALUES], set())


def _plain(value: Any, budget: list[int], open_ids: set[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError(f"more than {MAX_VALUES:,} values (aliases that repeat themselves?)")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict | list | tuple | set | frozenset):
        if id(value) in open_ids:
            raise ValueError("a value that contains itself")
        if len(open_ids) > 200:
            raise ValueError("nested too deeply")
        open_ids.add(id(value))
        try:
            if isinstance(value, dict):
                return {str(k): _plain(v, budget, open_ids) for k, v in value.items()}
            items = [_plain(item, budget, open_ids) for item in value]
            return sorted(items, key=str) if isinstance(value, set | frozenset) else items
        finally:
            open_ids.discard(id(value))
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    item = getattr(value, "item", None)  # a numpy scalar
    if callable(item) and getattr(value, "shape", None) == ():
        return _plain(item(), budget, open_ids)
    return str(value)


def _candidates(folder: Path) -> list[tuple[str, Path]]:
    """(source name, file) in the order they are tried: beside first, then one or two levels up."""
    found: list[tuple[str, Path]] = []
    for name in (*JSON_FILES, "training_args.bin", *YAML_FILES):
        found.append((name, folder / name))
    # Hydra: the run folder holds .hydra/; the weights sit in it or up to three levels below
    # (Lightning under Hydra: <run>/lightning_logs/version_0/checkpoints/)
    for up in (folder, *list(folder.parents)[:3]):
        if (up / ".hydra").is_dir():
            for name in ("config.yaml", "overrides.yaml"):
                file = up / ".hydra" / name
                found.append((_relative(file, folder), file))
            break
    # Lightning: <run>/lightning_logs/version_N/checkpoints/x.ckpt keeps hparams.yaml in version_N
    for up in (folder.parent, folder.parent.parent):
        if up != folder and _VERSION.search(up.name):
            found.append((_relative(up / "hparams.yaml", folder), up / "hparams.yaml"))
    # …and with ModelCheckpoint(dirpath=run/checkpoints), run/lightning_logs/version_N/ is a
    # sibling: the latest version is the run that wrote the last checkpoint
    for base in (folder, folder.parent):
        logs = base / "lightning_logs"
        if not logs.is_dir():
            continue
        versions = sorted(
            (int(m.group(1)), p) for p in logs.iterdir() if (m := _VERSION.search(p.name))
        )
        # the latest run that wrote one (a run stopped at once leaves an empty version_N)
        with_hparams = [p / "hparams.yaml" for _, p in versions if (p / "hparams.yaml").is_file()]
        if with_hparams:
            found.append((_relative(with_hparams[-1], folder), with_hparams[-1]))
            break
    # W&B: <run>/wandb/latest-run/files/config.yaml (also without the latest-run link)
    for base in (folder, folder.parent):
        wandb = base / "wandb"
        if wandb.is_dir():
            runs = [wandb / "latest-run", wandb / "latest-offline-run"]
            runs += sorted(  # newest first, by the timestamp in the name
                [*wandb.glob("run-*"), *wandb.glob("offline-run-*")],
                key=lambda p: p.name.removeprefix("offline-"),
                reverse=True,
            )
            for run in runs:
                file = run / "files" / "config.yaml"
                if file.is_file():
                    found.append((_relative(file, folder), file))
                    break
    if folder.parent != folder:
        # Ultralytics: runs/detect/train/{args.yaml, weights/best.pt}
        for name in ("hparams.yaml", "args.yaml"):
            found.append((f"../{name}", folder.parent / name))
    return found


def _relative(file: Path, folder: Path) -> str:
    return Path(os.path.relpath(file, folder)).as_posix()


def _read(file: Path, notes: list[str]) -> Any:
    try:
        size = file.stat().st_size
        if size > MAX_CONFIG_BYTES:
            notes.append(f"{file.name}: {size:,} bytes is too big for a config; skipped")
            return None
        if file.suffix == ".bin":
            return _read_pickle(file, notes)
        text = file.read_text(encoding="utf-8-sig")  # a BOM from a Windows editor is no error
    except (OSError, UnicodeDecodeError) as error:
        notes.append(f"{file.name}: could not be read ({error}); skipped")
        return None
    if file.suffix == ".json":
        parse, errors = json.loads, (ValueError,)
    else:
        # YAML only when a YAML file is there: PyYAML costs 15 ms to import, every open pays it
        import yaml

        from core.hparams import yaml_safe

        parse, errors = yaml_safe.load, (ValueError, yaml.YAMLError)
    try:
        return parse(text)
    except RecursionError:
        notes.append(f"{file.name}: nested too deeply to read; skipped")
        return None
    except errors as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        notes.append(f"{file.name}: not valid {file.suffix[1:].upper()} ({first}); skipped")
        return None


def _read_pickle(file: Path, notes: list[str]) -> Any:
    """training_args.bin: a pickled TrainingArguments, read inertly into its fields."""
    try:
        from core.unpickle import load_pickled_object
    except ImportError:  # the inert unpickler is not there yet: never fall back to pickle
        notes.append(f"{file.name}: cannot be read safely yet; skipped")
        return None
    try:
        obj, log = load_pickled_object(file)
    except Exception as error:  # noqa: BLE001 — a bad side file must not stop the open
        notes.append(f"{file.name}: could not be read ({type(error).__name__}: {error}); skipped")
        return None
    notes.extend(f"{file.name}: {line}" for line in log)
    return obj


def _shape(file: Path, data: Any, wandb: bool) -> Any:
    """Per-format clean-up: W&B `{key: {value: …}}`, Hydra override lists, pickled objects."""
    if file.name == "overrides.yaml" and isinstance(data, list):
        return _overrides(data)
    if wandb:
        return _unwrap_wandb(data)
    if file.suffix == ".bin":
        # a pickled object (TrainingArguments): its fields, and its fields' fields (an
        # accelerator config…), are the hyperparameters; the class names are not
        return _without_class(data)
    return data


def _without_class(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _without_class(v) for k, v in data.items() if k != "__class__"}
    if isinstance(data, list):
        return [_without_class(item) for item in data]
    return data


def _is_wandb(data: Any) -> bool:
    """W&B wraps every entry as {desc: …, value: …} and adds `_wandb` and `wandb_version`."""
    if not isinstance(data, dict) or not data:
        return False
    if "_wandb" in data or "wandb_version" in data:
        return True
    wrapped = [v for v in data.values() if isinstance(v, dict) and "value" in v]
    return len(wrapped) == len(data) and all(set(v) <= {"value", "desc"} for v in wrapped)


def _unwrap_wandb(data: dict) -> dict:
    plain: dict[str, Any] = {}
    for key, entry in data.items():
        if key in ("wandb_version", "_wandb"):
            continue
        plain[str(key)] = entry["value"] if isinstance(entry, dict) and "value" in entry else entry
    return plain


def _overrides(lines: list) -> dict[str, Any]:
    """Hydra's `overrides.yaml` lists `key=value` strings as typed on the command line:
    `optim.lr=1e-3` sets a nested key, `+key=…` adds one, `++key=…` adds or replaces, `~key`
    deletes. They are kept as the nested mapping they set, so they line up with
    `.hydra/config.yaml` (which already holds the result); deletions leave no key."""
    from core.hparams import yaml_safe

    result: dict[str, Any] = {}
    for line in lines:
        text = str(line).strip()
        if text.startswith("~"):
            continue
        key, sep, value = text.lstrip("+").partition("=")
        key = key.partition("@")[0]  # `optimizer@model.opt=adam` picks a group's package
        path = [part for part in key.split(".") if part]
        if not sep or not path:
            continue
        node = result
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                # `optimizer=adamw` chose a config group, then `optimizer.lr=…` set a key in it:
                # both stay, the second under its dotted name
                node, path = result, [".".join(path)]
                break
            node = child
        node[path[-1]] = yaml_safe.scalar(value)
    return result
