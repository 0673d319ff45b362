"""`compare(a, b)`: what changed between two checkpoints, pair by pair and module by module.

Each pair is streamed through both files in lock-step, a bounded chunk at a time (`aligned`). Two
tensors stored the same way are first compared byte for byte: when every byte matches no
arithmetic is done at all, so identical files take the time of reading them. When some pair
changed, the identical pairs' norms are read afterwards (one side only), because a module's
relative change ‖ΔB‖/‖A‖ needs every ‖A‖² under it; when nothing changed they are not needed.
Big comparisons run pair by pair in the worker processes of `core.analysis.pool`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

from core import stats
from core.analysis import pairing, pool, sides
from core.analysis.diff import DiffSums, Figures, aligned, figures
from core.analysis.pairing import PairSpec
from core.errors import CheckpointError
from core.model import Checkpoint

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]

PIECE = 1 << 17  # elements per aligned piece: two float64 pieces and Δ stay in cache
STATUSES = ("identical", "changed", "shape", "dtype")
# a converted tensor that moved more than this, with its direction lost, was rearranged
SUSPECT_REL, SUSPECT_COSINE = 0.5, 0.5


@dataclass(slots=True)
class PairResult:
    spec: PairSpec
    status: str  # one of STATUSES
    sums: DiffSums | None  # None for a shape mismatch (nothing is compared)

    @property
    def figures(self) -> Figures | None:
        return None if self.sums is None else figures(self.sums)

    @property
    def numel(self) -> int:
        spec = self.spec
        return sum(p.tensor.numel for p in spec.side_a.parts)

    def to_json(self) -> dict[str, Any]:
        s, f = self.sums, self.figures
        known = s is not None and s.norms_known
        return {
            "a": self.spec.a,
            "b": self.spec.b,
            "status": self.status,
            "transform": self.spec.transform,
            "shape_a": list(self.spec.shape_a),
            "shape_b": list(self.spec.shape_b),
            "dtype_a": self.spec.dtype_a,
            "dtype_b": self.spec.dtype_b,
            "numel": self.numel,
            "max_abs": f.max_abs if f else None,
            "mean_diff": f.mean_diff if f else None,
            "l2_diff": f.l2_diff if f else None,
            "rel": f.rel if f else None,
            "cosine": f.cosine if f else None,
            "snr_db": f.snr_db if f else None,
            "changed_share": f.changed_share if f else None,
            "nan_a": s.nan_a if known and s is not None else None,
            "nan_b": s.nan_b if known and s is not None else None,
        }


@dataclass(slots=True)
class ModuleResult:
    """Sums of every pair under a tree path; its figures are exact, not averages."""

    path: str
    d2: float = 0.0
    a2: float = 0.0
    b2: float = 0.0
    ab: float = 0.0
    changed: int = 0  # pairs under it that changed (values, dtype or shape)
    identical: int = 0
    norms_known: bool = True

    @property
    def rel(self) -> float | None:
        if self.d2 == 0:
            return 0.0
        return math.sqrt(self.d2 / self.a2) if self.a2 > 0 else None

    @property
    def cosine(self) -> float | None:
        if self.changed == 0 and not self.norms_known:
            return 1.0
        if self.a2 > 0 and self.b2 > 0:
            return max(-1.0, min(1.0, self.ab / math.sqrt(self.a2 * self.b2)))
        return None

    @property
    def l2_diff(self) -> float:
        return math.sqrt(self.d2)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rel": self.rel,
            "cosine": self.cosine,
            "l2_diff": self.l2_diff,
            "changed": self.changed,
            "identical": self.identical,
        }


@dataclass(slots=True)
class Comparison:
    a: Checkpoint
    b: Checkpoint
    pairs: list[PairResult]
    only_a: list[str]
    only_b: list[str]
    modules: list[ModuleResult]
    config_changes: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        found = dict.fromkeys(STATUSES, 0)
        for pair in self.pairs:
            found[pair.status] += 1
        return found

    def largest(self) -> PairResult | None:
        changed = [p for p in self.pairs if p.figures and p.figures.rel and p.status != "shape"]
        return max(changed, key=lambda p: p.figures.rel or 0.0, default=None)

    def summary(self) -> str:
        """E.g. "312 tensors paired · 290 identical · 22 changed (largest: …, 4.1 %) · 3 only in B"."""
        counts = self.counts()
        parts = [f"{len(self.pairs):,} tensors paired", f"{counts['identical']:,} identical"]
        changed = counts["changed"] + counts["dtype"]
        if changed:
            text = f"{changed:,} changed"
            top = self.largest()
            if top is not None and top.figures is not None and top.figures.rel is not None:
                name = top.spec.a.removesuffix(".weight")
                text += f" (largest: {name}, {percent(top.figures.rel)})"
            parts.append(text)
        if counts["shape"]:
            parts.append(f"{counts['shape']:,} with another shape")
        if self.only_a:
            parts.append(f"{len(self.only_a):,} only in A")
        if self.only_b:
            parts.append(f"{len(self.only_b):,} only in B")
        return " · ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "a": _side_json(self.a),
            "b": _side_json(self.b),
            "pairs": [p.to_json() for p in self.pairs],
            "only_a": list(self.only_a),
            "only_b": list(self.only_b),
            "modules": [m.to_json() for m in self.modules],
            "config_changes": self.config_changes,
            "warnings": list(self.warnings),
        }


def percent(share: float) -> str:
    """0.041 → "4.1 %", 0.0055 → "0.55 %", 1.37 → "137 %"."""
    value = share * 100
    return f"{value:.0f} %" if value >= 100 else f"{value:.2g} %"


def _side_json(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "path": str(checkpoint.path),
        "format": checkpoint.format,
        "tensors": len(checkpoint.tensors),
    }


# --- running pairs ---------------------------------------------------------------------------------


def _fast_path(spec: PairSpec) -> bool:
    """Both sides one tensor stored the same way: equal bytes mean equal values."""
    if not (spec.side_a.plain and spec.side_b.plain and spec.same_dtype):
        return False
    sa, sb = spec.side_a.parts[0].tensor.source, spec.side_b.parts[0].tensor.source
    assert sa is not None and sb is not None
    return sa.encoding == sb.encoding and sa.nbytes == sb.nbytes


def run_pair(
    spec: PairSpec,
    mode: str = "diff",
    chunk_bytes: int = stats.CHUNK_BYTES,
    cancelled: CancelledFn | None = None,
    advance: Callable[[int], None] | None = None,
) -> DiffSums:
    """The sums of one pair ("diff"), or of side A against itself ("norms")."""
    if mode == "norms":
        result = DiffSums()
        for chunk in sides.values(spec.side_a, chunk_bytes, cancelled, advance):
            for start in range(0, chunk.size, PIECE):
                result.add_norms(chunk[start : start + PIECE])
        result.identical_bytes = True
        return result
    if _fast_path(spec):
        ta, tb = spec.side_a.parts[0].tensor, spec.side_b.parts[0].tensor
        if sides.raw_equal(ta, tb, chunk_bytes, cancelled, advance):
            return DiffSums(numel=ta.numel, identical_bytes=True, norms_known=False)
    result = DiffSums()
    stream_a = sides.values(spec.side_a, chunk_bytes, cancelled, advance)
    stream_b = sides.values(spec.side_b, chunk_bytes, cancelled, advance)
    try:
        for a, b in aligned(stream_a, stream_b, PIECE):
            result.add(a, b)
    except ValueError as error:  # the streams disagree in length: a reader's bug or a bad file
        raise CheckpointError(spec.side_a.parts[0].tensor.name, str(error)) from None
    return result


def _run_in_worker(spec: PairSpec, mode: str, chunk_bytes: int) -> Any:
    try:
        return run_pair(spec, mode, chunk_bytes)
    except CheckpointError as error:
        return pool.error_tuple(error)


def _run_all(
    jobs: list[tuple[PairSpec, str]],
    chunk_bytes: int,
    workers: int | None,
    tracker: pool._Tracker,
    cancelled: CancelledFn | None,
    collect: Callable[[int, DiffSums], None],
) -> None:
    """Each pair in the worker processes when the work is big, else here, in this thread."""
    workers = pool.default_workers() if workers is None else workers
    sizes = [
        spec.side_a.pass_bytes + (spec.side_b.pass_bytes if mode == "diff" else 0)
        for spec, mode in jobs
    ]
    done: set[int] = set()
    if workers > 1 and len(jobs) > 1 and sum(sizes) >= stats.POOL_MIN_BYTES:
        tasks = [(_run_in_worker, (spec, mode, chunk_bytes)) for spec, mode in jobs]
        try:
            pool.run_in_pool(tasks, sizes, workers, cancelled, tracker.advance, collect, done)
            return
        except futures.process.BrokenProcessPool:
            pool.shutdown_pool()  # a worker died (killed, out of memory): finish the rest here
    for index, (spec, mode) in enumerate(jobs):
        if index not in done:
            collect(index, run_pair(spec, mode, chunk_bytes, cancelled, tracker.advance))


# --- the public function ---------------------------------------------------------------------------


def compare(
    a: Checkpoint,
    b: Checkpoint,
    *,
    mapping: str = "auto",
    undo: bool = True,
    module: str | None = None,
    adapter: Checkpoint | None = None,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    workers: int | None = None,
    chunk_bytes: int = stats.CHUNK_BYTES,
) -> Comparison:
    """Compare checkpoint A with B (see the module docstring).

    `mapping`: "auto", "none" or a two-column name map's path; `undo=False` compares tensors as
    stored (no converter transform undone); `module` keeps pairs whose A or B name starts with
    it; `adapter`: a LoRA adapter added to A (base + scale·B·A) before comparing. Raises
    CheckpointError naming the side ("A: …" / "B: …") whose data cannot be read.
    """
    plan = pairing.plan(a, b, mapping, undo)
    warnings = list(plan.warnings)
    if adapter is not None:
        from core.analysis.lora import attach

        warnings.extend(attach(plan, adapter))
    if module:
        plan.pairs = [p for p in plan.pairs if _under(p.a, module) or _under(p.b, module)]
        plan.only_a = [n for n in plan.only_a if _under(n, module)]
        plan.only_b = [n for n in plan.only_b if _under(n, module)]
    for label, checkpoint, side_of in (("A", a, "side_a"), ("B", b, "side_b")):
        cut = [
            p.tensor.name
            for spec in plan.pairs
            for p in getattr(spec, side_of).parts
            if p.tensor.truncated
        ]
        if cut:
            from core.readers.truncation import REASONS

            first = next(
                p.tensor
                for s in plan.pairs
                for p in getattr(s, side_of).parts
                if p.tensor.truncated
            )
            more = f" and {len(cut) - 1:,} more" if len(cut) > 1 else ""
            raise CheckpointError(
                checkpoint.path,
                f"side {label}: the file is truncated — {first.name}{more}: "
                f"{REASONS[first.truncated]}",
                "compare a complete copy",
            )
    pairs: list[PairSpec] = []
    for spec in plan.pairs:
        problem = _unreadable(spec)
        if problem:
            warnings.append(f"not compared: {spec.a} ↔ {spec.b} ({problem})")
        else:
            pairs.append(spec)
    for spec in pairs:
        if spec.comparable:
            _check_side(spec.side_a, "A", a)
            _check_side(spec.side_b, "B", b)
    results = [PairResult(spec, "shape", None) for spec in pairs]
    todo = [i for i, spec in enumerate(pairs) if spec.comparable]
    total = sum(pairs[i].side_a.pass_bytes + pairs[i].side_b.pass_bytes for i in todo)
    tracker = pool._Tracker(total, progress)

    def collect(index: int, sums: DiffSums) -> None:
        result = results[todo[index]]
        result.sums = sums
        if sums.changed:
            result.status = "dtype" if not result.spec.same_dtype else "changed"
        else:
            result.status = "identical" if result.spec.same_dtype else "dtype"

    _run_all_named(
        a, b, [(pairs[i], "diff") for i in todo], chunk_bytes, workers, tracker, cancelled, collect
    )
    if any(r.status != "identical" for r in results):
        # a module's relative change needs the norms of its identical tensors too
        again = [i for i in todo if results[i].sums and not results[i].sums.norms_known]
        if again:
            tracker.total += sum(pairs[i].side_a.pass_bytes for i in again)

            def collect_norms(index: int, sums: DiffSums) -> None:
                results[again[index]].sums = sums

            _run_all_named(
                a,
                b,
                [(pairs[i], "norms") for i in again],
                chunk_bytes,
                workers,
                tracker,
                cancelled,
                collect_norms,
            )
    for result in results:
        warnings.extend(_pair_warnings(result, a, b))
    return Comparison(
        a=a,
        b=b,
        pairs=results,
        only_a=plan.only_a,
        only_b=plan.only_b,
        modules=_modules(results),
        config_changes=config_changes(a, b),
        warnings=warnings,
    )


def _run_all_named(
    a: Checkpoint,
    b: Checkpoint,
    jobs: list[tuple[PairSpec, str]],
    chunk_bytes: int,
    workers: int | None,
    tracker: pool._Tracker,
    cancelled: CancelledFn | None,
    collect: Callable[[int, DiffSums], None],
) -> None:
    """`_run_all`, with a read error restated as the side it came from."""
    try:
        _run_all(jobs, chunk_bytes, workers, tracker, cancelled, collect)
    except CheckpointError as error:
        raise _on_side(error, a, b) from None


def _on_side(error: CheckpointError, a: Checkpoint, b: Checkpoint) -> CheckpointError:
    where = error.path.resolve() if error.path.exists() else error.path
    sides = []
    for label, checkpoint in (("A", a), ("B", b)):
        if any(where == f.resolve() for f in checkpoint.files) or where == checkpoint.path:
            sides.append(label)
    label = " and ".join(sides) or "A or B"
    return CheckpointError(error.path, f"side {label}: {error.what}", error.hint)


def _check_side(side: sides.Side, label: str, checkpoint: Checkpoint) -> None:
    try:
        sides.check(side)
    except CheckpointError as error:
        raise CheckpointError(error.path, f"side {label}: {error.what}", error.hint) from None


def _unreadable(spec: PairSpec) -> str:
    for label, side in (("A", spec.side_a), ("B", spec.side_b)):
        for part in side.parts:
            t = part.tensor
            if t.source is None:
                return f"side {label}: the data of {t.name} is not in the file (see its warnings)"
            if not stats.statistics_possible(t):
                kind = t.source.encoding if t.source and t.source.encoding else t.dtype
                return f"{t.name}: values of {kind} tensors cannot be read"
    return ""


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix.rstrip(".") + ".")


def _pair_warnings(result: PairResult, a: Checkpoint, b: Checkpoint) -> list[str]:
    found = []
    spec, s = result.spec, result.sums
    if result.status == "shape":
        found.append(
            f"{spec.a}: shape {list(spec.shape_a)} in A but {list(spec.shape_b)} in B "
            "(not compared)"
        )
    if s is None:
        return found
    if s.nan_a or s.nan_b or s.inf:
        found.append(
            f"{spec.a}: NaN in A {s.nan_a:,}, NaN in B {s.nan_b:,}, ±Inf {s.inf:,} "
            "(left out of the figures)"
        )
    f = figures(s)
    converted = a.format != b.format or spec.dtype_a != spec.dtype_b
    if (
        converted
        and f.rel is not None
        and f.rel > SUSPECT_REL
        and (f.cosine is None or f.cosine < SUSPECT_COSINE)
    ):
        found.append(
            f"{spec.a}: changed by {f.rel:.0%} with cosine {f.cosine if f.cosine is not None else 0:.2f} — "
            "a conversion does not do that: its values look rearranged (a layout change such "
            "as llama.cpp's Q/K permutation not undone), or the files hold different models"
        )
    return found


def _modules(results: list[PairResult]) -> list[ModuleResult]:
    found: dict[str, ModuleResult] = {}
    for result in results:
        path = result.spec.module
        prefixes = [""]
        if path:
            parts = path.split(".")
            prefixes += [".".join(parts[: i + 1]) for i in range(len(parts))]
        for prefix in prefixes:
            node = found.get(prefix)
            if node is None:
                node = found[prefix] = ModuleResult(prefix)
            if result.status == "identical":
                node.identical += 1
            else:
                node.changed += 1
            s = result.sums
            if s is None:
                continue
            node.d2 += s.d2
            node.a2 += s.a2
            node.b2 += s.b2
            node.ab += s.ab
            node.norms_known = node.norms_known and s.norms_known
    return [found[k] for k in sorted(found)]


# --- hyperparameters -------------------------------------------------------------------------------

_LONG_LIST = 64
CONFIG_CHANGES_SHOWN = 2000


def merged_config(checkpoint: Checkpoint) -> dict[str, Any]:
    """The checkpoint's hyperparameters merged over its sources, by key: a known hyperparameter
    under its canonical name (`num_attention_heads` and GGUF's `llama.attention.head_count` are
    both `num_heads`), anything else by its dotted path."""
    from core.hparams.keys import spec_for
    from core.hparams.merge import _fits, dotted, flatten, merge

    leaves = flatten(merge(checkpoint.hyperparams).data)
    found: dict[str, Any] = {}
    for path, value in leaves.items():
        if isinstance(value, (list, tuple)) and len(value) > _LONG_LIST:
            value = f"[{len(value):,} values]"  # a vocabulary is not a hyperparameter to diff
        spec = spec_for(path)
        key = spec.canonical if spec is not None and _fits(spec.kind, value) else dotted(path)
        found.setdefault(key, value)
    return found


def config_changes(a: Checkpoint, b: Checkpoint) -> list[dict[str, Any]]:
    """Every key whose value differs (missing on one side: None there), sorted by key."""
    left, right = merged_config(a), merged_config(b)
    changes = []
    for key in sorted(set(left) | set(right)):
        va, vb = left.get(key), right.get(key)
        if key in left and key in right and _same(va, vb):
            continue
        changes.append({"key": key, "a": va, "b": vb})
    return changes[:CONFIG_CHANGES_SHOWN]


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    return type(x) is type(y) and x == y or (x == y and not isinstance(x, bool))


__all__ = ["Comparison", "ModuleResult", "PairResult", "compare"]
