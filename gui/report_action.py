"""File ▸ Export Report…: the current checkpoint as one self-contained HTML or Markdown file.

A small dialog asks where, how deep the module tree goes, how many of the largest tensors get
statistics and histograms, and whether to run the health check (the tab's own results are used
when it has them). The work — reading values, writing the file atomically — is `core.report`,
run as a background Job with its progress in the status bar; the window stays usable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core import units
from gui.health import AUTO_CHECK_BYTES
from gui.workers import Job

# as core.report has them; that module loads when a report is asked for, not with the window
DEFAULT_DEPTH = 3
DEFAULT_TOP = 6


class ReportOptions(QDialog):
    """Where to write the report and what to put in it."""

    def __init__(self, target: Path, health_note: str, health_on: bool, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export Report")
        self.path = QLineEdit(str(target))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(self.path, 1)
        where.addWidget(browse)
        self.depth = QSpinBox()
        self.depth.setRange(1, 12)
        self.depth.setValue(DEFAULT_DEPTH)
        self.top = QSpinBox()
        self.top.setRange(0, 50)
        self.top.setValue(DEFAULT_TOP)
        for box in (self.depth, self.top):
            box.setMaximumWidth(90)
        self.health = QCheckBox(health_note)
        self.health.setChecked(health_on)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("File (.html or .md)", where)
        form.addRow("Module tree depth", self.depth)
        form.addRow("Largest tensors", self.top)
        form.addRow("Health", self.health)
        form.addRow(buttons)
        self.resize(620, self.sizeHint().height())

    def _browse(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self,
            "Export Report",
            self.path.text(),
            "HTML report (*.html);;Markdown report (*.md)",
        )
        if name:
            self.path.setText(name)


class ReportExporter(QObject):
    """The action and the running export of one window."""

    written = Signal(str)  # the report's path
    failed = Signal(str)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.job: Job | None = None
        self.action = QAction("Export &Report…", window)
        self.action.setStatusTip(
            "Write a self-contained HTML or Markdown report to attach to an issue or a model card"
        )
        self.action.triggered.connect(self.ask)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.cancel)

    @property
    def busy(self) -> bool:
        return self.job is not None

    def update_enabled(self) -> None:
        tab = self.window.current_tab()
        self.action.setEnabled(tab is not None and tab.checkpoint is not None and not self.busy)

    def ask(self) -> None:
        tab = self.window.current_tab()
        if tab is None or tab.checkpoint is None:
            return
        checkpoint = tab.checkpoint
        have = tab.health is not None and tab.health.results is not None
        if have:
            note, on = "include the health check already run", True
        else:
            data = tab.health.data_bytes if tab.health is not None else 0
            note = f"check health (reads all {units.size(data)} of values)"
            on = data <= AUTO_CHECK_BYTES
        folder = checkpoint.path if checkpoint.path.is_dir() else checkpoint.path.parent
        stem = checkpoint.path.name if checkpoint.path.is_dir() else checkpoint.path.stem
        dialog = ReportOptions(folder / f"{stem}.report.html", note, on, self.window)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.export_to(
            Path(dialog.path.text()).expanduser(),
            depth=dialog.depth.value(),
            top=dialog.top.value(),
            check_health=dialog.health.isChecked(),
        )

    def export_to(
        self,
        target: Path,
        depth: int = DEFAULT_DEPTH,
        top: int = DEFAULT_TOP,
        check_health: bool = True,
    ) -> Job | None:
        """Start writing the current tab's report to `target`; the job, or None if refused."""
        from core.errors import CheckpointError
        from core.hparams.export import own_files
        from core.report import build_report, format_for, write_report

        tab = self.window.current_tab()
        if tab is None or tab.checkpoint is None or self.busy:
            return None
        try:
            format_for(target)
        except CheckpointError as error:
            self._failed(str(error))
            return None
        checkpoint = tab.checkpoint
        results = tab.health.results if check_health and tab.health is not None else None

        def run(progress, cancelled) -> str:
            report = build_report(
                checkpoint,
                depth,
                top,
                check_health=check_health,
                health_results=results,
                progress=progress,
                cancelled=cancelled,
            )
            return str(write_report(report, target, protect=own_files(checkpoint)))

        job = Job(run)
        job.signals.progress.connect(self._progress)
        job.signals.finished.connect(self._finished)
        job.signals.failed.connect(self._failed)
        job.signals.cancelled.connect(self._cancelled)
        self.job = job
        self.update_enabled()
        self.window.statusBar().showMessage(f"Writing the report {target.name} …")
        return job.start()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _progress(self, done: int, total: int) -> None:
        if self.job is not None and total:
            self.window.statusBar().showMessage(
                f"Writing the report: reading values {100 * done // total} % …"
            )

    def _over(self) -> None:
        self.job = None
        self.update_enabled()

    def _finished(self, path: str) -> None:
        self._over()
        self.window.statusBar().showMessage(f"Report written: {path}", 10000)
        self.written.emit(path)

    def _failed(self, message: str) -> None:
        self._over()
        self.window.report_error(f"The report could not be written: {message}")
        self.failed.emit(message)

    def _cancelled(self) -> None:
        self._over()
        self.window.statusBar().showMessage("Report cancelled", 5000)
