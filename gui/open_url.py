"""Remote models in the window: File ▸ Open URL… (a Hub id, hf:// address or https link), links
dropped from a browser, and fetching a remote tensor's bytes on request — the size said first,
then a progress dialog with Cancel. The fetching itself is core/remote.py."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QVBoxLayout,
    QWidget,
)

from core import remote
from core.errors import CheckpointError
from core.model import Checkpoint, TensorInfo
from core.units import exact, size
from gui.workers import PROGRESS_SCALE, Job

EXAMPLES = (
    "Examples: meta-llama/Llama-3.1-8B · hf://Qwen/Qwen3-0.6B@main · "
    "https://huggingface.co/google/gemma-3-1b-it · https://…/model.safetensors"
)


class OpenUrlDialog(QDialog):
    """Asks for a Hub id or URL; `address()` is what open_checkpoint takes (org/name → hf://)."""

    def __init__(self, parent: QWidget | None = None, text: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Open URL")
        self.edit = QLineEdit(text)
        self.edit.setPlaceholderText("org/name, hf://org/name@revision or https://…")
        self.edit.setMinimumWidth(520)
        intro = QLabel(
            "Only the headers and configs are downloaded: the layer tree, counts, "
            "hyperparameters and memory plan need nothing else."
        )
        intro.setWordWrap(True)
        examples = QLabel(EXAMPLES)
        examples.setWordWrap(True)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #c0392b")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (intro, self.edit, examples, self.error, buttons):
            layout.addWidget(widget)

    def address(self) -> str:
        return normalise(self.edit.text())

    def accept(self) -> None:
        try:
            remote.parse(self.edit.text(), bare_repo=True)
        except CheckpointError as error:
            self.error.setText(error.what + (f" — {error.hint}" if error.hint else ""))
            return
        super().accept()


def normalise(text: str) -> str:
    text = text.strip()
    return "hf://" + text if remote.is_repo_name(text) else text


def ask_address(parent: QWidget | None) -> str | None:
    dialog = OpenUrlDialog(parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.address()


def remote_addresses(urls: list[QUrl]) -> list[str]:
    """Dropped links ParamScope can open from their headers."""
    found = []
    for url in urls:
        if url.isLocalFile():
            continue
        text = url.toString()
        if remote.looks_remote(text):
            found.append(text)
    return found


def tensors_of(checkpoint: Checkpoint, paths: list[str]) -> list[TensorInfo]:
    """The tensors a selection stands for: a tensor itself, or every tensor under a module."""
    chosen: dict[str, TensorInfo] = {}
    for path in paths:
        exact_match = checkpoint.tensor(path)
        if exact_match is not None:
            chosen[exact_match.name] = exact_match
            continue
        prefix = path + "." if path else ""
        for t in checkpoint.tensors:
            if t.name.startswith(prefix) and t.tied_to is None:
                chosen[t.name] = t
    return [t for t in chosen.values() if t.source is not None]


def missing_of(tensors: list[TensorInfo]) -> int:
    return sum(
        remote.missing_bytes(t.source.file, t.source.offset, t.source.nbytes)
        for t in tensors
        if t.source is not None
    )


class TensorFetch:
    """Ask, then download the selected tensors' bytes with progress and Cancel; `done` runs
    on success (the caller re-reads the statistics)."""

    def __init__(
        self, parent: QWidget, checkpoint: Checkpoint, paths: list[str], done: Callable[[], None]
    ) -> None:
        self.parent, self.checkpoint, self.done = parent, checkpoint, done
        self.tensors = [
            t
            for t in tensors_of(checkpoint, paths)
            if remote.missing_bytes(t.source.file, t.source.offset, t.source.nbytes)
        ]
        self.need = missing_of(self.tensors)
        self.job: Job | None = None
        self.dialog: QProgressDialog | None = None

    def ask(self) -> bool:
        if not self.need:
            QMessageBox.information(
                self.parent, "Fetch tensor data", "The selected tensors' data is here already."
            )
            return False
        what = self.tensors[0].name if len(self.tensors) == 1 else f"{len(self.tensors)} tensors"
        answer = QMessageBox.question(
            self.parent,
            "Fetch tensor data",
            f"Download {size(self.need)} ({exact(self.need)} bytes) of {what} from "
            f"{self.checkpoint.facts.get('source', 'the server')}?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def start(self) -> Job:
        tensors, need = self.tensors, self.need

        def run(progress, cancelled) -> int:
            done = 0
            for t in tensors:
                base = done

                def report(got: int, _n: int, base: int = base) -> None:
                    progress(base + got, need)

                remote.fetch_range(
                    t.source.file,
                    t.source.offset,
                    t.source.nbytes,
                    progress=report,
                    cancelled=cancelled,
                )
                done += t.source.nbytes
            return done

        self.dialog = QProgressDialog(
            f"Downloading {size(need)} …", "Cancel", 0, PROGRESS_SCALE, self.parent
        )
        self.dialog.setWindowTitle("Fetch tensor data")
        self.dialog.setMinimumDuration(0)
        job = Job(run)
        self.job = job
        self.dialog.canceled.connect(job.cancel)
        job.signals.progress.connect(lambda done, _total: self.dialog.setValue(done))
        job.signals.finished.connect(lambda _result: self._finished())
        job.signals.failed.connect(self._failed)
        job.signals.cancelled.connect(self._close)
        job.start()
        return job

    def _close(self) -> None:
        if self.dialog is not None:
            self.dialog.reset()
            self.dialog.deleteLater()
            self.dialog = None

    def _finished(self) -> None:
        self._close()
        first = self.tensors[0].source.file if self.tensors else None
        found = remote.manifest_of(first) if first is not None else None
        if found is not None:
            self.checkpoint.facts["remote"] = remote.describe_manifest(found[0])
        self.done()

    def _failed(self, message: str) -> None:
        self._close()
        QMessageBox.warning(self.parent, "Fetch tensor data", message)
