"""A training run's logged history — loss, learning rate, gradient norm per step — for plotting.

Two sources are understood: the Hugging Face Trainer's `trainer_state.json` (`log_history`, one
dict per logging step) and Lightning's CSVLogger `metrics.csv` (in `lightning_logs/version_N/`,
beside the `hparams.yaml` that run wrote; a row per logging call, empty cells for metrics not
logged at that call). Both are read as data only, bounded in size.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.hparams.merge import log_history
from core.model import Checkpoint

MAX_LOG_BYTES = 32 << 20  # a metrics.csv bigger than this is not read (said in `note`)
_VERSION = re.compile(r"version_(\d+)$")
_STEP_KEYS = ("step", "global_step", "trainer/global_step")
_NOT_METRICS = {"epoch", "step", "global_step", "trainer/global_step", "total_flos"}


@dataclass(slots=True)
class TrainingLog:
    source: str  # where it came from, for the panel's title
    x_name: str  # "step", or "row" when the log numbers no steps
    rows: list[dict[str, Any]] = field(default_factory=list)  # as logged, for the table
    series: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)  # x, y
    note: str = ""

    @property
    def losses(self) -> list[str]:
        return [name for name in self.series if "loss" in name.lower()]

    @property
    def learning_rates(self) -> list[str]:
        return [name for name in self.series if is_learning_rate(name)]


def is_learning_rate(name: str) -> bool:
    lower = name.lower()
    return "learning_rate" in lower or lower == "lr" or lower.startswith(("lr-", "lr_", "lr/"))


def training_log(checkpoint: Checkpoint) -> TrainingLog | None:
    """The run's history: trainer_state.json's if present, else a Lightning metrics.csv."""
    rows = log_history(checkpoint.hyperparams)
    if rows:
        return from_rows(rows, "trainer_state.json")
    csv_file = lightning_metrics(checkpoint)
    if csv_file is not None:
        return read_metrics_csv(csv_file, _shown(csv_file, checkpoint.path))
    return None


def from_rows(rows: list[dict[str, Any]], source: str) -> TrainingLog:
    """Series of every numeric metric, against the rows' step (or their order)."""
    x_key = next((k for k in _STEP_KEYS if any(k in row for row in rows)), None)
    log = TrainingLog(source, x_key or "row", rows)
    for number, row in enumerate(rows):
        x = _number(row.get(x_key)) if x_key else float(number)
        if x is None:
            continue
        for key, value in row.items():
            y = _number(value)
            if key in _NOT_METRICS or y is None:
                continue
            xs, ys = log.series.setdefault(key, ([], []))
            xs.append(x)
            ys.append(y)
    return log


def lightning_metrics(checkpoint: Checkpoint) -> Path | None:
    """metrics.csv beside an hparams.yaml this checkpoint's run wrote, or in the newest
    lightning_logs/version_N/ above or beside it."""
    for config in checkpoint.config_files:
        if config.name == "hparams.yaml" and (config.parent / "metrics.csv").is_file():
            return config.parent / "metrics.csv"
    folder = checkpoint.path if checkpoint.path.is_dir() else checkpoint.path.parent
    for up in (folder, folder.parent, folder.parent.parent):
        if _VERSION.search(up.name) and (up / "metrics.csv").is_file():
            return up / "metrics.csv"
    for base in (folder, folder.parent):
        logs = base / "lightning_logs"
        if logs.is_dir():
            versions = sorted(
                (int(m.group(1)), p) for p in logs.iterdir() if (m := _VERSION.search(p.name))
            )
            found = [p / "metrics.csv" for _, p in versions if (p / "metrics.csv").is_file()]
            if found:
                return found[-1]
    return None


def read_metrics_csv(path: Path, source: str = "metrics.csv") -> TrainingLog | None:
    try:
        size = path.stat().st_size
        if size > MAX_LOG_BYTES:
            return TrainingLog(source, "step", note=f"{path.name} is {size:,} bytes: not read")
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    reader = csv.DictReader(io.StringIO(text))
    rows = [{k: v for k, v in row.items() if k and v not in ("", None)} for row in reader]
    rows = [row for row in rows if row]
    return from_rows(rows, source) if rows else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _shown(file: Path, checkpoint: Path) -> str:
    base = checkpoint if checkpoint.is_dir() else checkpoint.parent
    try:
        return str(file.relative_to(base))
    except ValueError:
        parts = file.parts
        return "/".join(parts[-3:])
