"""`open_checkpoint`: the one way in. Reader → classified tensors → tree → totals → hyperparameters."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

from core import foreign, interrupt, remote
from core.adapters import describe as describe_adapters
from core.errors import Cancelled, CheckpointError
from core.memory import impossible_counts, memory_table, totals_of
from core.model import Checkpoint
from core.roles import classify
from core.sniff import read_head, resolve
from core.tree import build_tree

ProgressFn = Callable[[int, int], None]
BUG_HINT = "this is a bug in ParamScope; please report it with the file's first bytes"


def open_checkpoint(path: str | Path, progress: ProgressFn | None = None) -> Checkpoint:
    """Open any supported checkpoint from its headers; raise CheckpointError for bad input."""
    # Opening allocates an object per tensor and module and frees none of them: the cyclic
    # collector would only rescan them, over and over (a third of the time for 100,000 tensors).
    if isinstance(path, str) and remote.looks_remote(path):
        return _open_remote(path, progress)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _open(path, progress)
    finally:
        if collecting:
            gc.enable()


def _open_remote(address: str, progress: ProgressFn | None) -> Checkpoint:
    """Fetch the headers an address names into a mirror (core/remote.py) and open that."""

    def cancelled() -> bool:
        if progress is not None:
            progress(0, 3)  # raises Cancelled when the caller asked to stop
        return False

    mirror = remote.open_remote(address, cancelled=cancelled)
    checkpoint = open_checkpoint(mirror.path, progress)
    checkpoint.facts["remote"] = remote.describe(mirror)
    checkpoint.facts["source"] = mirror.manifest.source or address
    if mirror.offline:
        checkpoint.warnings.append(
            "the server could not be reached: this is the copy of the headers cached when it "
            "was last opened"
        )
    return checkpoint


def _open(path: str | Path, progress: ProgressFn | None) -> Checkpoint:
    path = Path(path).expanduser()
    if progress:
        progress(0, 3)
    located = resolve(path)
    reader, path = located.reader, located.path
    try:
        # the reader's long loops poll the caller's progress callback, which raises Cancelled
        with interrupt.checking((lambda: progress(0, 3)) if progress else None):
            result = reader.read(path)
    except CheckpointError:
        known = _foreign(path)
        if known is not None:  # a PaddlePaddle pickle the pickle reader could not make sense of
            raise known.error(path) from None
        raise
    except Cancelled:
        raise
    except RecursionError:
        raise CheckpointError(
            path, "the file nests its data too deeply", "corrupt or hostile"
        ) from None
    except MemoryError:
        raise CheckpointError(
            path, "the header asks for more memory than exists", "corrupt"
        ) from None
    except Exception as error:  # noqa: BLE001 — the last guard: a message, never a traceback
        raise CheckpointError(
            path, f"could not be read ({type(error).__name__}: {error})", BUG_HINT
        ) from error
    if not result.tensors:
        known = _foreign(path)
        if known is not None:  # a PaddlePaddle pickle holds arrays the pickle reader does not take
            raise known.error(path)
    if progress:
        progress(1, 3)
    classify(result.tensors)
    tree = build_tree(result.tensors)
    totals = totals_of(result.tensors)
    if progress:
        progress(2, 3)
    checkpoint = Checkpoint(
        path=path,
        format=result.format,
        files=result.files,
        tensors=result.tensors,
        tree=tree,
        totals=totals,
        memory=memory_table(totals),
        metadata=result.metadata,
        hyperparams=dict(result.hyperparams),
        warnings=result.warnings + impossible_counts(result.tensors),
        facts=result.facts,
        file_bytes=sum(_size(f) for f in result.files),
        alternatives=list(located.alternatives),
    )
    checkpoint.hyperparams = _discover_hyperparams(checkpoint, result.hyperparams)
    describe_adapters(checkpoint)  # LoRA rank/alpha/share, quantisation scheme: facts only
    if progress:
        progress(3, 3)
    return checkpoint


def _foreign(path: Path) -> foreign.Foreign | None:
    try:
        return foreign.identify(path, read_head(path))
    except CheckpointError:
        return None


def _discover_hyperparams(checkpoint: Checkpoint, inside: dict) -> dict:
    from core.hparams.discover import discover

    return discover(
        checkpoint.path, checkpoint.files, inside, checkpoint.warnings, checkpoint.config_files
    )


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        return 0
