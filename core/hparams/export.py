"""Write hyperparameters as YAML, JSON or TOML: types kept, limits reported, writes atomic.

Every format keeps ints, floats, bools, strings, lists and nesting. What a format cannot hold is
reported in the returned notes instead of vanishing: TOML has no null, so such keys are left out
and listed (and named in a comment in the file); strict JSON has no NaN or infinity. Files are
written to a temporary file in the same folder and renamed over the target, so an export that is
interrupted leaves either the old file or none — never half of one. The checkpoint itself is
never a target.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from core.errors import CheckpointError
from core.hparams import yaml_safe
from core.hparams.discover import is_run_state
from core.hparams.merge import flatten
from core.model import Checkpoint

FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".toml": "toml"}
BESIDE_SUFFIX = ".hparams.yaml"


def format_for(path: Path) -> str:
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise CheckpointError(
            path, "unknown export format", "name the file .yaml, .yml, .json or .toml"
        )
    return fmt


def to_text(data: dict[str, Any], fmt: str) -> tuple[str, list[str]]:
    """The text of `data` in a format ("yaml", "json", "toml") and notes on what it could not hold."""
    if fmt == "yaml":
        return yaml_safe.dump(data), []
    if fmt == "json":
        notes = [
            f"{'.'.join(p)}: {v!r} is written as JSON5-style {json.dumps(v)}, which Python "
            "reads but strict JSON parsers refuse"
            for p, v in _leaves(data)
            if isinstance(v, float) and not math.isfinite(v)
        ]
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n", notes
    if fmt == "toml":
        return _toml(data)
    raise ValueError(f"unknown format {fmt!r}")


def _leaves(data: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found: list[tuple[tuple[str, ...], Any]] = []
    for path, value in flatten(data, prefix).items():
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict | list):
                    found.extend(_leaves({str(i): item}, path))
                else:
                    found.append(((*path, str(i)), item))
        else:
            found.append((path, value))
    return found


def _toml(data: dict[str, Any]) -> tuple[str, list[str]]:
    import tomlkit

    dropped: list[str] = []
    notes: list[str] = []
    document = tomlkit.document()
    for key, value in _for_toml(data, (), dropped, notes).items():
        document.add(key, value)
    notes[:0] = [f"{key}: null has no TOML form; left out" for key in dropped]
    text = tomlkit.dumps(document)
    if dropped:
        header = "".join(f"# {key} = null (TOML has no null; left out)\n" for key in dropped)
        text = header + ("\n" if text else "") + text
    return text, notes


_TOML_INT = range(-(2**63), 2**63)


def _holds_null(value: Any) -> bool:
    return isinstance(value, list) and any(item is None or _holds_null(item) for item in value)


def _for_toml(value: Any, path: tuple[str, ...], dropped: list[str], notes: list[str]) -> Any:
    """`value` as TOML can hold it: nulls left out (named in `dropped`), integers beyond 64 bits
    written as text (named in `notes`)."""
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            # a list missing its nulls would be another list ([null, 0.9] is not [0.9]): the
            # whole key goes, said so
            if item is None or _holds_null(item):
                dropped.append(".".join((*path, str(key))))
                continue
            kept[str(key)] = _for_toml(item, (*path, str(key)), dropped, notes)
        return kept
    if isinstance(value, list):
        return [_for_toml(item, (*path, f"[{i}]"), dropped, notes) for i, item in enumerate(value)]
    if isinstance(value, int) and not isinstance(value, bool) and value not in _TOML_INT:
        notes.append(f"{'.'.join(path)}: {value} is beyond TOML's 64-bit integers; written as text")
        return str(value)
    return value


def write_atomic(target: Path, text: str) -> None:
    """Write text to `target` through a temporary file in its folder and a rename."""
    target = Path(target)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        os.chmod(temp_name, _mode_for(target))
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, target)
    except BaseException:
        # anything — a full disk, Ctrl+C — leaves no partial file behind
        Path(temp_name).unlink(missing_ok=True)
        raise


def _mode_for(target: Path) -> int:
    """The mode a file written in place would get: the replaced file's own, else what the umask
    leaves of rw-rw-rw- (mkstemp's 0600 would hide a config from the rest of a team)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
        os.umask(umask)
        return 0o666 & ~umask


def training_config(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`data` without its run state (epoch, global_step, Lightning version …) and the keys left
    out: an exported config is for training again, where a saved step count does not belong."""
    kept = {k: v for k, v in data.items() if not is_run_state((str(k),))}
    return kept, [str(k) for k in data if k not in kept]


def export(
    data: dict[str, Any],
    target: str | Path,
    fmt: str | None = None,
    protect: list[Path] | None = None,
) -> list[str]:
    """Write `data` without its run state to `target` (format from the extension unless given);
    returns notes on what the format could not hold and what was left out. `protect` lists files never to overwrite: the checkpoint's own
    and the configs beside it that it was read with."""
    target = Path(target).expanduser()
    fmt = fmt or format_for(target)
    if target.is_symlink():  # write the file it points to; replacing the link would break it
        target = target.resolve()
    for path in protect or []:
        if _same_file(path, target):
            raise CheckpointError(
                target,
                "is one of the files this checkpoint was read from; it is never overwritten",
                "choose another file name",
            )
    data, run_state = training_config(data)
    text, notes = to_text(data, fmt)
    if run_state:
        notes.append(f"run state left out (facts of this checkpoint): {', '.join(run_state)}")
    try:
        write_atomic(target, text)
    except OSError as error:
        raise CheckpointError(target, f"could not be written ({error.strerror or error})") from None
    return notes


def beside_path(checkpoint_path: Path) -> Path:
    """`<checkpoint name>.hparams.yaml` next to the checkpoint (inside a model folder)."""
    checkpoint_path = Path(checkpoint_path)
    if checkpoint_path.is_dir():
        return checkpoint_path / f"{checkpoint_path.name}{BESIDE_SUFFIX}"
    return checkpoint_path.with_name(checkpoint_path.name + BESIDE_SUFFIX)


def save_beside(
    checkpoint_path: Path, data: dict[str, Any], protect: list[Path] | None = None
) -> tuple[Path, list[str]]:
    target = beside_path(checkpoint_path)
    return target, export(data, target, "yaml", [*(protect or []), Path(checkpoint_path)])


def own_files(checkpoint: Checkpoint) -> list[Path]:
    """What an export must never replace: the weights, the shard index beside them, and every
    config file beside them (read, or skipped as unreadable)."""
    folders = {f.parent for f in checkpoint.files}
    indexes = [index for folder in folders for index in folder.glob("*.index.json")]
    return [*checkpoint.files, *indexes, *checkpoint.config_files]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False
