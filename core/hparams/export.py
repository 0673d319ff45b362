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
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from core.errors import CheckpointError
from core.hparams import toml_write, yaml_safe
from core.hparams.discover import is_run_state
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
            for p, v in _nonfinite(data)
        ]
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n", notes
    if fmt == "toml":
        return _toml(data)
    raise ValueError(f"unknown format {fmt!r}")


def _nonfinite(data: Any) -> list[tuple[tuple[str, ...], float]]:
    """Every NaN or infinity in `data` with its path (list items as their index), in the order
    of the file, by a loop that makes a path only for what it finds: one pass over any size."""
    found: list[tuple[tuple[str, ...], float]] = []
    stack: list[tuple[tuple[str, ...], Any]] = [((), iter(data.items()))]
    while stack:
        path, items = stack[-1]
        for key, item in items:
            if isinstance(item, float):
                if not math.isfinite(item):
                    found.append(((*path, str(key)), item))
            elif isinstance(item, dict | list | tuple):
                inner = item.items() if isinstance(item, dict) else enumerate(item)
                stack.append(((*path, str(key)), iter(inner)))
                break
        else:
            stack.pop()
    return found


def _toml(data: dict[str, Any]) -> tuple[str, list[str]]:
    dropped: list[str] = []
    notes: list[str] = []
    plain = _for_toml(data, (), dropped, notes)
    notes[:0] = [f"{key}: null has no TOML form; left out" for key in dropped]
    text = toml_write.dumps(plain)
    if text is None:  # a value that is not plain data: tomlkit knows more types (slowly)
        import tomlkit

        document = tomlkit.document()
        for key, value in plain.items():
            document.add(key, value)
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
    remove_stale_temps(target)
    # `.<name>.<pid>-<random>.tmp`: the pid tells a later export whether its writer still runs
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.{os.getpid()}-", suffix=".tmp", dir=target.parent
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


STALE_AGE = 3600  # seconds: no export takes this long; an older temp file's writer is gone


def remove_stale_temps(target: Path) -> list[Path]:
    """Delete temporary files an earlier export to `target` left when it was killed (`kill -9`,
    a power cut): only names of exactly our pattern, and only when the process that wrote one
    is gone or the file is older than any export takes. Returns what was deleted."""
    ours = re.compile(
        rf"\.{re.escape(target.name)}\.(?:(?P<pid>\d+)-)?[a-z0-9_]{{8}}\.tmp", re.ASCII
    )
    removed: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        found = ours.fullmatch(entry.name)
        if found is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                continue
            pid = found["pid"]
            gone = pid is not None and not _process_alive(int(pid))
            if gone or now - info.st_mtime > STALE_AGE:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # another export removed it first, or it is not ours to remove
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # no cheap check: the age alone decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # a process of another user holds the pid, or the number is no pid
    return True


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
        try:
            target = target.resolve(strict=False)
        except (RuntimeError, OSError):  # Python 3.11 raises RuntimeError for a loop
            raise CheckpointError(
                target,
                "is a symbolic link that leads back to itself (a link loop)",
                "remove the link or choose another file name",
            ) from None
    for path in protect or []:
        if _same_file(path, target):
            raise CheckpointError(
                target,
                "is one of the files this checkpoint was read from; it is never overwritten",
                "choose another file name",
            )
    data, run_state = training_config(data)
    try:
        replaced: list[str] = []
        data = _without_surrogates(data, replaced)
        text, notes = to_text(data, fmt)
    except RecursionError:
        raise CheckpointError(target, "the values nest too deeply to write") from None
    if replaced:
        notes.append(
            f"{replaced[0]}{' and others' if len(replaced) > 1 else ''}: text held bytes that "
            "are not UTF-8; they are written as U+FFFD (�)"
        )
    if run_state:
        notes.append(f"run state left out (facts of this checkpoint): {', '.join(run_state)}")
    try:
        write_atomic(target, text)
    except OSError as error:
        raise CheckpointError(target, f"could not be written ({error.strerror or error})") from None
    return notes


_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(value: Any, replaced: list[str]) -> Any:
    """A pickle's text that was not UTF-8 is kept as lone surrogates, which no UTF-8 file can
    hold: each becomes U+FFFD, and the text is named in `replaced`."""
    if isinstance(value, str):
        if value.isascii() or not _SURROGATE.search(value):
            return value
        fixed = _SURROGATE.sub("\ufffd", value)
        replaced.append(repr(fixed[:40]))
        return fixed
    if isinstance(value, dict):
        return {
            _without_surrogates(k, replaced): _without_surrogates(v, replaced)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        items = [_without_surrogates(item, replaced) for item in value]
        return items if isinstance(value, list) else tuple(items)
    return value


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
