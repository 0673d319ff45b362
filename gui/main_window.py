"""The main window: one tab per checkpoint, docks for distributions and hyperparameters, menus.

Every way of opening a file (menus, recent files, argv, drops, macOS FileOpen, a second launch)
ends in `MainWindow.open_path`, which runs `core.open_checkpoint` in a background job while the tab
shows that it is loading; the UI thread never reads a file. Errors arrive as a calm banner and a
status-bar message; other tabs stay open.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

from PySide6.QtCore import QRect, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QColor,
    QDesktopServices,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QPainter,
    QPalette,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core import remote, units
from core.adapters import needs_base, relate_to_base
from core.errors import Cancelled, CheckpointError
from core.fileread import CHANGED
from core.model import Checkpoint
from gui import demo_path, heap, theme
from gui import help as help_module
from gui.code_view import with_code_tab
from gui.colors import ALERT
from gui.elided_label import ElidedLabel
from gui.file_watch import FileWatcher, Place, ReloadBar, changed_message
from gui.first_paint import after_first_paint
from gui.health import HealthLine
from gui.layer_tree import LayerTree
from gui.open_url import TensorFetch, ask_address, remote_addresses
from gui.prefetch import prefetch_histogram
from gui.raw_values import RawValuesView
from gui.report_action import ReportExporter
from gui.settings import Settings
from gui.summary import SummaryView
from gui.tab_titles import tab_title
from gui.unsaved import settle_unsaved
from gui.workers import Job

try:
    from gui.hparams_panel import HyperparamPanel
except ImportError:  # pragma: no cover - depends on the checkout
    HyperparamPanel = None  # type: ignore[assignment,misc]

PROGRESS_DELAY_MS = 150  # quick opens should not flash a progress bar
DIST_SHARE = 0.4  # of the window's width, for the plots at first
HPARAMS_SHARE = 0.3  # of its height, for the hyperparameters below the tree


def _placeholder(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setEnabled(False)
    return label


# --- one tab --------------------------------------------------------------------------------------


def _compare():
    """gui.compare_tab, loaded with the diff engine (and numpy) when a comparison is asked for:
    the window's first paint does not wait for them."""
    from gui import compare_tab

    return compare_tab


class CheckpointTab(QWidget):
    """A checkpoint: loading placeholder first, then summary over layer tree."""

    selectionChanged = Signal(list)
    openRequested = Signal(str)  # another file to open in a tab (an alternative copy, clicked)

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.address = ""  # a remote model's hf:// or https address (gui/open_url.py)
        self.checkpoint: Checkpoint | None = None
        self.job: Job | None = None
        self.started = time.perf_counter()
        self.selection: list[str] = []
        self.tree: LayerTree | None = None
        self.summary: SummaryView | None = None
        self.health: HealthLine | None = None
        self.spectra = None  # gui.spectrum_line.SpectrumLine once the checkpoint is shown
        self.place: Place | None = None  # what the tree showed, kept across a reload
        self._health_started = False
        self.status = ""  # what the status line says while this tab is in front
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(6, 6, 6, 0)
        self.reload_bar = ReloadBar()
        self._layout.addWidget(self.reload_bar)
        self.loading = _placeholder(f"Opening {path.name} …")
        self._layout.addWidget(self.loading)

    @property
    def title(self) -> str:
        return tab_title(self.path)

    @property
    def is_loading(self) -> bool:
        return self.checkpoint is None

    def show_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self.job = None
        self.loading.hide()
        self.summary = SummaryView(checkpoint)
        self.summary.openRequested.connect(self.openRequested)
        self.health = HealthLine(checkpoint)
        # its findings run long: wrapped, they never set the window's minimum width
        self.health.label.setWordWrap(True)
        self.health.layout().setStretchFactor(self.health.label, 100)  # wrap at the edge only
        self.tree = LayerTree(checkpoint)
        self.tree.selectionChanged.connect(self._selected)
        self.health.checked.connect(self.tree.set_health)
        from gui.spectrum_line import SpectrumLine

        self.spectra = SpectrumLine(checkpoint)
        self.spectra.computed.connect(self.tree.set_spectra)
        self.health.findingClicked.connect(lambda what, names: self.tree.show_only(names, what))
        self._layout.addWidget(self.summary)
        self._layout.addWidget(self.health)
        self._layout.addWidget(self.spectra)
        self._layout.addWidget(with_code_tab(self.tree, checkpoint), 1)
        # the statistics engine (numpy) loads and the checks take the CPU after the tree has
        # painted: a model is on screen before anything is read
        self._health_started = False
        if "remote" not in checkpoint.facts:
            self.health.schedule()
        after_first_paint(self.tree.view.viewport(), self.start_checks)

    def start_checks(self) -> None:
        """Count the weight matrices; start the health check and the spectra of a model small
        enough to check unasked (after the tree's first paint, or sooner when asked)."""
        if self.spectra is None or self.checkpoint is None:
            return  # reloaded or closed meanwhile
        self.start_health()  # first: its worker processes get going while the rest loads
        self.spectra.prepare()
        window = self.window()
        if "remote" in self.checkpoint.facts or not getattr(window, "auto_spectra", True):
            return
        health, spectra = self.health, self.spectra
        if health is not None and health.busy:
            # one after the other: two background jobs at once take the GIL from the window
            # between them (a 100,000-tensor model froze it for seconds)
            health.checked.connect(
                lambda _report: spectra.start_if_small() if self.spectra is spectra else None,
                Qt.ConnectionType.SingleShotConnection,
            )
        else:
            spectra.start_if_small()

    def start_health(self) -> None:
        """The health check of a model small enough to check unasked, once per checkpoint shown:
        after the tree's first paint, or sooner when asked (`--screenshot`)."""
        if self._health_started or self.health is None or self.checkpoint is None:
            return
        self._health_started = True
        if "remote" not in self.checkpoint.facts:  # a remote model's data is not here to read
            self.health.start_if_small()

    def drop_views(self) -> None:
        """Take down the views of the checkpoint a reload replaces."""
        for view in (self.summary, self.health, self.spectra, self.tree):
            if view is not None:
                self._layout.removeWidget(view)
                view.deleteLater()
        if self.health is not None:
            self.health.cancel()
        if self.spectra is not None:
            self.spectra.cancel()
        self.summary = self.health = self.spectra = self.tree = None

    def _selected(self, paths: list[str]) -> None:
        self.selection = paths
        self.selectionChanged.emit(paths)


# --- empty state, error banner, drop highlight ----------------------------------------------------


class EmptyPage(QWidget):
    """What the window shows with nothing open: how to start, recent files, the demo."""

    openRequested = Signal(str)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        title = QLabel("Drop a checkpoint here, or Open… (Ctrl+O)")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel(
            "safetensors (single, sharded, Hugging Face folders) · PyTorch .pt/.pth/.bin/.ckpt · "
            "GGUF · ONNX · NumPy · Keras\nFiles are only read, never run or changed."
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setWordWrap(True)  # the stack's pages share one minimum width: keep this one small
        hint.setEnabled(False)
        open_button = QPushButton("&Open…")
        open_button.clicked.connect(window.open_dialog)
        folder_button = QPushButton("Open &folder…")
        folder_button.clicked.connect(window.open_folder_dialog)
        self.demo_button = QPushButton("Open the &demo model")
        self.demo_button.clicked.connect(lambda: self.openRequested.emit(str(demo_path())))
        self.demo_button.setEnabled(demo_path().exists())
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (open_button, folder_button, self.demo_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.recent_title = QLabel("Recent")
        self.recent_title.setEnabled(False)
        self.recent = QListWidget()
        self.recent.setFrameShape(QFrame.Shape.NoFrame)
        self.recent.setMaximumWidth(640)
        self.recent.setMinimumWidth(420)
        self.recent.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.recent.itemActivated.connect(lambda item: self.openRequested.emit(item.data(256)))
        self.recent.setToolTip("Double-click or Enter to open")
        self.recent.viewport().setAutoFillBackground(False)  # part of the page, not a box

        column = QVBoxLayout()
        column.addStretch(2)
        column.addWidget(title)
        column.addWidget(hint)
        column.addSpacing(12)
        column.addLayout(buttons)
        column.addSpacing(24)
        column.addWidget(self.recent_title, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self.recent, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addStretch(3)
        self.setLayout(column)

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for path in paths:
            p = Path(path)
            item = QListWidgetItem(f"{p.name}    —    {p.parent}")
            item.setData(256, path)
            item.setToolTip(path)
            if not p.exists():
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                item.setToolTip(f"{path}\n(no longer there)")
            self.recent.addItem(item)
        self.recent_title.setVisible(bool(paths))
        self.recent.setVisible(bool(paths))
        rows = max(1, min(len(paths), 10))
        self.recent.setFixedHeight(self.recent.sizeHintForRow(0) * rows + 6 if paths else 0)


class Banner(QFrame):
    """A calm, dismissible message above the tabs (errors while opening)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # messages name files: never markup
        # a path with no place to wrap is clipped (the tooltip has it) rather than widen the window
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.clear)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        icon = QLabel("⚠")
        icon.setStyleSheet(f"color: {ALERT}; font-weight: bold")
        layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.messages: list[str] = []
        self.hide()

    def add(self, message: str) -> None:
        self.messages = [*self.messages[-4:], message]
        self.label.setText("\n".join(self.messages))
        self.label.setToolTip("\n".join(self.messages))
        self.show()

    def clear(self) -> None:
        self.messages = []
        self.hide()


class DropOverlay(QWidget):
    """The drop highlight: a frame over the window saying what a drop would do."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.text = ""
        self.ok = True
        self.hide()

    def show_message(self, text: str, ok: bool) -> None:
        self.text, self.ok = text, ok
        self.setGeometry(self.parentWidget().rect())
        self.raise_()
        self.show()
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        palette = self.palette()
        color = palette.color(QPalette.ColorRole.Highlight) if self.ok else QColor(ALERT)
        fill = QColor(color)
        fill.setAlpha(40)
        painter.fillRect(self.rect(), fill)
        pen = painter.pen()
        pen.setColor(color)
        pen.setWidth(3)
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRect(self.rect().adjusted(2, 2, -3, -3))
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        painter.setFont(font)
        # the message sits on a solid card so it reads over any content
        flags = int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap)
        bounds = QRect(self.rect().adjusted(80, 80, -80, -80))
        text_rect = painter.fontMetrics().boundingRect(bounds, flags, self.text)
        card = text_rect.adjusted(-28, -20, 28, 20)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(palette.color(QPalette.ColorRole.Window))
        pen.setStyle(Qt.PenStyle.SolidLine)
        pen.setWidth(2)
        painter.setPen(pen)
        painter.drawRoundedRect(card, 8, 8)
        painter.setPen(palette.color(QPalette.ColorRole.WindowText))
        painter.drawText(text_rect, flags, self.text)
        painter.end()


# --- the window -----------------------------------------------------------------------------------


class MainWindow(QMainWindow):
    """Tabs of checkpoints, docks, menus, status bar. `open_path` is the one way in."""

    opened = Signal(object)  # CheckpointTab, once its checkpoint is shown
    failed = Signal(str, str)  # path, message
    settled = Signal()  # no open is running any more

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.setWindowTitle("ParamScope")
        self.setAcceptDrops(True)
        self.resize(1400, 900)
        self.ask_on_close = True  # pending edits ask first; a signal to quit does not
        # running opens → their tab (None once the tab was closed: the result is then ignored)
        self._jobs: dict[Job, CheckpointTab | None] = {}
        self.watcher = FileWatcher(self)
        self.watcher.changed.connect(self._file_changed)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        # titles are short already (tab_title): the bar scrolls instead of eliding them to "…"
        self.tabs.setElideMode(Qt.TextElideMode.ElideNone)
        self.tabs.setUsesScrollButtons(True)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.tabs.currentChanged.connect(self._current_changed)
        self.tabs.tabBar().setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tabs.tabBar().customContextMenuRequested.connect(self._tab_menu)
        self.empty = EmptyPage(self)
        self.empty.openRequested.connect(self.open_path)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.tabs)
        self.banner = Banner()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.overlay = DropOverlay(self)

        self._dock_visibility: dict[QDockWidget, bool] | None = None
        self._make_docks()
        self._make_status_bar()
        self._make_menus()
        self._restore_layout()
        self._refresh_empty()
        geometry = self.settings.restore("geometry")  # after the empty page hid the docks,
        if geometry is not None:  # so their minimum widths do not clamp the window
            self.restoreGeometry(geometry)

    # --- building -----------------------------------------------------------------------------

    def _make_docks(self) -> None:
        # the plots panel (and pyqtgraph) is made once the first tree has painted, or when
        # asked for: a model's tree shows a quarter sooner (benchmarks/first_paint.py)
        self._distribution = None
        self._plots_made = False
        self.auto_spectra = True  # a small model's spectra start once its tree has painted
        self._prefetch = None  # a selection's numbers, read while the plots load (gui.prefetch)
        placeholder = _placeholder("Distributions appear here.")
        self.dist_dock = self._dock("Distribution", "distribution", placeholder)
        # the selected tensor's values, read on demand: beside the plots, a tab away
        self.values = RawValuesView()
        self.values_dock = self._dock("Values", "values", self.values)
        self.tabifyDockWidget(self.dist_dock, self.values_dock)
        self.dist_dock.raise_()
        self.values_dock.visibilityChanged.connect(self.values.set_wanted)
        self.hparams = HyperparamPanel() if HyperparamPanel is not None else None
        hparams_widget = self.hparams or _placeholder("Hyperparameters appear here.")
        # below the tree: the key/value/source table wants width more than height
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.hparams_dock = self._dock(
            "Hyperparameters",
            "hyperparameters",
            hparams_widget,
            Qt.DockWidgetArea.BottomDockWidgetArea,
        )
        if self.hparams is not None:
            self.hparams.status_message.connect(
                lambda text: self.statusBar().showMessage(text, 8000)
            )
        self._make_memory_dock()

    def _make_memory_dock(self) -> None:
        """The Memory panel, a tab beside the hyperparameters (gui/memory_panel.py), made when
        its tab is first shown or it is asked for (`memory`): behind the hyperparameters it
        would only add its module and form to every start."""
        self._memory = None
        # its form and plot want ~430 px of height: scrolled, they no longer set the height of
        # the whole bottom area (which squeezed the tree to a few rows and the window past 700)
        self._memory_scroll = QScrollArea()
        self._memory_scroll.setWidgetResizable(True)
        self._memory_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.memory_dock = self._dock(
            "Memory", "memory", self._memory_scroll, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.memory_dock.visibilityChanged.connect(self._memory_visible)
        # tabified once the window is shown: a second tab group made before that left Qt (6.11)
        # with a stray copy of its tab bar, painted over the status bar
        self._memory_tab_pending = True

    @property
    def memory(self):  # -> gui.memory_panel.MemoryPanel
        """The Memory panel, made on first use with the current checkpoint."""
        if self._memory is None:
            from gui.memory_panel import MemoryPanel  # noqa: PLC0415

            panel = MemoryPanel()
            panel.set_wanted(self.memory_dock.isVisible() and not self.memory_dock.isHidden())
            self._memory_scroll.setWidget(panel)
            self._memory = panel
            tab = self.current_tab()
            panel.set_checkpoint(tab.checkpoint if tab is not None else None)
        return self._memory

    def _memory_visible(self, visible: bool) -> None:
        if visible:
            self.memory.set_wanted(True)
        elif self._memory is not None:
            self._memory.set_wanted(False)  # behind the hyperparameters: no plan to compute

    def _tabify_memory_once(self) -> None:
        if self._memory_tab_pending:
            self._memory_tab_pending = False
            self.tabifyDockWidget(self.hparams_dock, self.memory_dock)
            self.hparams_dock.raise_()

    @property
    def distribution(self):  # -> DistributionPanel | None (None where the plots cannot load)
        """The plots panel, made on first use."""
        if not self._plots_made:
            self._make_plots()
        return self._distribution

    def _make_plots(self) -> None:
        self._plots_made = True
        try:
            from gui.tensor_plots import DistributionPanel  # noqa: PLC0415 — pyqtgraph: later
        except ImportError:  # pragma: no cover - depends on the checkout
            return
        panel = DistributionPanel()  # its plots refuse drops: a dropped file opens a tab
        panel.statusMessage.connect(self._job_message)
        old = self.dist_dock.widget()
        self.dist_dock.setWidget(panel)
        old.deleteLater()
        self._distribution = panel
        tab = self.current_tab()
        checkpoint = tab.checkpoint if tab is not None else None
        panel.set_checkpoint(checkpoint)
        if checkpoint is not None and tab is not None and tab.selection:
            panel.show_selection(tab.selection)

    def _dock(
        self,
        title: str,
        name: str,
        widget: QWidget,
        area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
    ) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{name}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _make_status_bar(self) -> None:
        bar = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop opening")
        self.cancel_button.clicked.connect(self.cancel_loading)
        self.progress_label = ElidedLabel()
        self.progress_label.setMaximumWidth(420)
        for widget in (self.progress_label, self.progress, self.cancel_button):
            bar.addPermanentWidget(widget)
            widget.hide()
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(PROGRESS_DELAY_MS)
        self._progress_timer.timeout.connect(lambda: self._update_progress(reveal=True))
        self._progress_shown = False

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _make_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.open_action = self._action(
            "&Open File…", self.open_dialog, QKeySequence.StandardKey.Open, "Open checkpoints"
        )
        self.open_folder_action = self._action(
            "Open &Folder…", self.open_folder_dialog, "Ctrl+Shift+O", "Open a model folder"
        )
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.open_folder_action)
        self.open_url_action = self._action(
            "Open &URL…",
            self.open_url_dialog,
            "Ctrl+Shift+O",
            "Open a model on the Hugging Face Hub or at a URL from its headers alone",
        )
        file_menu.addAction(self.open_url_action)
        self.fetch_action = self._action(
            "&Fetch Tensor Data…",
            self.fetch_tensor_data,
            tip="Download the selected remote tensors' bytes for their statistics",
        )
        file_menu.addAction(self.fetch_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.demo_action = self._action("Open the &Demo Model", lambda: self.open_path(demo_path()))
        file_menu.addAction(self.demo_action)
        self.compare_action = self._action(
            "Compare &With…",
            lambda: _compare().compare_with(self),
            "Ctrl+Shift+D",
            "Compare the current checkpoint with another file",
        )
        self.compare_tabs_action = self._action(
            "Compare &Tabs…", lambda: _compare().compare_tabs_dialog(self)
        )
        file_menu.addAction(self.compare_action)
        file_menu.addAction(self.compare_tabs_action)
        file_menu.addSeparator()
        self.reporter = ReportExporter(self)  # File ▸ Export Report…
        file_menu.addAction(self.reporter.action)
        file_menu.aboutToShow.connect(self.reporter.update_enabled)
        file_menu.addSeparator()
        self.close_action = self._action(
            "&Close", self.close_current, QKeySequence.StandardKey.Close
        )
        file_menu.addAction(self.close_action)
        file_menu.addSeparator()
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        # Windows has no standard Quit key, and some platforms close with Ctrl+F4 only; Ctrl+Q
        # and Ctrl+W are what people press everywhere
        _with_key(self.quit_action, QKeySequence.StandardKey.Quit, "Ctrl+Q")
        _with_key(self.close_action, QKeySequence.StandardKey.Close, "Ctrl+W")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        file_menu.addAction(self.quit_action)

        edit_menu = menu.addMenu("&Edit")
        if self.hparams is not None:  # the hyperparameter edits are what can be undone
            edit_menu.addAction(self.hparams.undo_action)
            edit_menu.addAction(self.hparams.redo_action)
            edit_menu.addSeparator()
        self.find_action = self._action("&Find…", self.focus_find, QKeySequence.StandardKey.Find)
        self.copy_action = self._action("&Copy", self.copy, QKeySequence.StandardKey.Copy)
        edit_menu.addAction(self.find_action)
        edit_menu.addAction(self.copy_action)
        self.edit_menu = edit_menu

        view_menu = menu.addMenu("&View")
        self.expand_action = self._action("&Expand All", self.expand_all, "Ctrl+Shift+E")
        self.collapse_action = self._action("&Collapse All", self.collapse_all, "Ctrl+Shift+C")
        view_menu.addAction(self.expand_action)
        view_menu.addAction(self.collapse_action)
        self.health_action = self._action(
            "Check &Health",
            self.check_health,
            "Ctrl+Shift+H",
            "Read every value: NaN/Inf, dead, outlier and mostly-zero tensors",
        )
        view_menu.addAction(self.health_action)
        self.next_flagged_action = self._action(
            "&Next Flagged Tensor", lambda: self.select_flagged(1), "F8"
        )
        self.previous_flagged_action = self._action(
            "Pre&vious Flagged Tensor", lambda: self.select_flagged(-1), "Shift+F8"
        )
        self.spectra_action = self._action(
            "Compute &Spectra",
            self.compute_spectra,
            None,
            "Eigenvalue spectra and power-law α of every weight matrix",
        )
        view_menu.addAction(self.spectra_action)
        view_menu.addAction(self.next_flagged_action)
        view_menu.addAction(self.previous_flagged_action)
        view_menu.addSeparator()
        self._make_theme_menu(view_menu.addMenu("&Theme"))
        view_menu.addSeparator()
        for dock, key in (
            (self.dist_dock, "Ctrl+1"),
            (self.hparams_dock, "Ctrl+2"),
            (self.values_dock, "Ctrl+3"),
            (self.memory_dock, "Ctrl+4"),
        ):
            toggle = dock.toggleViewAction()
            toggle.setShortcut(QKeySequence(key))
            view_menu.addAction(toggle)

        if self.hparams is not None:
            hparams_menu = menu.addMenu("Hyper&parameters")
            for action in self._hparams_actions():
                hparams_menu.addAction(action)

        help_menu = menu.addMenu("&Help")
        self.shortcuts_action = self._action(
            "&Keyboard Shortcuts", lambda: help_module.show_shortcuts(self), "Ctrl+/"
        )
        self.docs_action = self._action(
            "&Documentation", lambda: help_module.show_documentation(self), "F1"
        )
        help_menu.addAction(self.docs_action)
        help_menu.addAction(self.shortcuts_action)
        help_menu.addSeparator()
        self.help_menu = help_menu
        self.about_action = self._action("&About ParamScope", self._show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(self.about_action)
        self._update_actions()

    def _make_theme_menu(self, menu: QMenu) -> None:
        group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name, text in theme.THEMES.items():
            action = menu.addAction(text, lambda n=name: self.set_theme(n))
            action.setCheckable(True)
            group.addAction(action)
            self.theme_actions[name] = action
        applied = theme.apply(self.settings.theme())
        self.theme_actions[applied].setChecked(True)

    def set_theme(self, name: str) -> None:
        applied = theme.apply(name)
        self.theme_actions[applied].setChecked(True)
        self.settings.set_theme(applied)

    def _show_about(self) -> None:
        from gui.about import show_about  # noqa: PLC0415 — package metadata: read when asked

        show_about(self)

    def _restore_layout(self) -> None:
        state = self.settings.restore("state")
        if state is not None:
            self._memory_tab_pending = False  # the saved state says where Memory goes
            self.restoreState(state)
        self._default_docks = state is None

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._tabify_memory_once()
        self._size_docks_once()

    def _size_docks_once(self) -> None:
        # default dock sizes only take once the window has its size and the docks are shown
        if self._default_docks and self.isVisible() and self._dock_visibility is None:
            self._default_docks = False
            QTimer.singleShot(0, self._size_docks)

    def _size_docks(self) -> None:
        width, height = self.width(), self.height()
        self.resizeDocks(
            [self.dist_dock], [max(420, int(width * DIST_SHARE))], Qt.Orientation.Horizontal
        )
        self.resizeDocks(
            [self.hparams_dock], [max(220, int(height * HPARAMS_SHARE))], Qt.Orientation.Vertical
        )

    def _keep_dock_shares(self, old: QSize) -> None:
        """A resized window keeps each dock's share of it (the default's or the one a person
        dragged): QMainWindow gives all the change to the tree, so a maximised window kept a
        narrow plot and a shrunk one squeezed the tree."""
        if old.width() <= 0 or old.height() <= 0 or self._dock_visibility is not None:
            return
        shares = []
        for dock, orientation, total in (
            (self.dist_dock, Qt.Orientation.Horizontal, old.width()),
            (self.hparams_dock, Qt.Orientation.Vertical, old.height()),
        ):
            if dock.isVisible() and not dock.isFloating():
                size = dock.width() if orientation == Qt.Orientation.Horizontal else dock.height()
                shares.append((dock, orientation, size / total))
        if shares:
            QTimer.singleShot(0, lambda: self._apply_dock_shares(shares))

    def _apply_dock_shares(self, shares: list) -> None:
        for dock, orientation, share in shares:
            total = self.width() if orientation == Qt.Orientation.Horizontal else self.height()
            self.resizeDocks([dock], [int(total * share)], orientation)

    def quit_without_asking(self) -> None:
        """Close without the question about pending edits (SIGTERM: nobody is there to answer)."""
        self.ask_on_close = False

    def _edits_settled(self, tabs: list[CheckpointTab], closing: str) -> bool:
        """Whether `tabs` may close: their pending hyperparameter edits were exported or
        discarded (or there were none); Cancel, or an export that was not written, says no."""
        if not self.ask_on_close or self.hparams is None:
            return True
        unsaved = self.hparams.unsaved_edits()
        pending = [t for t in tabs if t.checkpoint is not None and t.checkpoint in unsaved]

        def export_each() -> bool:
            for tab in pending:
                self.tabs.setCurrentWidget(tab)  # the panel exports the shown checkpoint
                if not self.hparams.export_dialog():
                    return False
            return True

        return settle_unsaved(self, [t.title for t in pending], closing, export_each)

    def closeEvent(self, event) -> None:
        tabs = [self.tabs.widget(i) for i in range(self.tabs.count())]
        if not self._edits_settled([t for t in tabs if isinstance(t, CheckpointTab)], "the window"):
            event.ignore()
            return
        self.settings.save("geometry", self.saveGeometry())
        self._docks_for_empty(False)  # save the docks a person chose, not the empty page's
        self.settings.save("state", self.saveState())
        self.settings.sync()
        self.cancel_loading()
        if "gui.compare_tab" in sys.modules:  # else no comparison was ever opened
            _compare().cancel_all(self)
        for check in self.health_checks():
            check.cancel()
        if self._prefetch is not None:
            self._prefetch.cancel()
        for index in range(self.tabs.count()):
            tab = self.tabs.widget(index)
            if isinstance(tab, CheckpointTab) and tab.spectra is not None:
                tab.spectra.cancel()
        if self._distribution is not None:
            self._distribution.cancel()
        self.reporter.cancel()
        super().closeEvent(event)

    # --- opening: the one way in --------------------------------------------------------------

    def open_paths(self, paths: list[str] | list[Path]) -> list[CheckpointTab]:
        return [tab for tab in (self.open_path(p) for p in paths) if tab is not None]

    def open_path(self, path: str | Path) -> CheckpointTab | None:
        """Open a checkpoint in a new tab (or show its tab if it is open already)."""
        if isinstance(path, str) and remote.looks_remote(path):
            return self._open_address(path)
        # `a/../b` shown as `b`; symlinks kept (an HF cache's files link to blobs named by hash)
        # but compared by what they point to, so one file never gets two tabs
        path = Path(os.path.normpath(Path(path).expanduser().absolute()))
        for index in range(self.tabs.count()):
            tab = self.tabs.widget(index)
            if isinstance(tab, CheckpointTab) and _same_file(tab.path, path):
                self.tabs.setCurrentIndex(index)
                return tab
        tab = CheckpointTab(path)
        tab.reload_bar.reloadRequested.connect(lambda t=tab: self.reload_tab(t))
        tab.openRequested.connect(self.open_path)
        # listed in the order asked for (opens end in any order); taken off again if it fails
        self.settings.add_recent(path)
        index = self.tabs.addTab(tab, tab.title)
        self.tabs.setTabToolTip(index, str(path))
        self.tabs.setCurrentIndex(index)
        self.stack.setCurrentWidget(self.tabs)
        self._docks_for_empty(False)
        self._start_open(tab)
        return tab

    def _open_address(self, address: str) -> CheckpointTab:
        """A remote model (gui/open_url.py): its tab opens the headers into a local mirror."""
        for index in range(self.tabs.count()):
            tab = self.tabs.widget(index)
            if isinstance(tab, CheckpointTab) and tab.address == address:
                self.tabs.setCurrentIndex(index)
                return tab
        name = address.rstrip("/").rsplit("/", 1)[-1]
        tab = CheckpointTab(Path(name))
        tab.address = address
        tab.reload_bar.reloadRequested.connect(lambda t=tab: self.reload_tab(t))
        tab.openRequested.connect(self.open_path)
        index = self.tabs.addTab(tab, name)
        self.tabs.setTabToolTip(index, address)
        self.tabs.setCurrentIndex(index)
        self.stack.setCurrentWidget(self.tabs)
        self._docks_for_empty(False)
        self._start_open(tab)
        return tab

    def open_url_dialog(self) -> None:
        address = ask_address(self)
        if address:
            self.open_path(address)

    def fetch_tensor_data(self) -> None:
        tab = self.current_tab()
        if tab is None or tab.checkpoint is None or not tab.address:
            return
        fetch = TensorFetch(self, tab.checkpoint, tab.selection, lambda: self._fetched(tab))
        if fetch.ask():
            self._fetch = fetch
            fetch.start()

    def _fetched(self, tab: CheckpointTab) -> None:
        index = self.tabs.indexOf(tab)
        if index < 0 or tab.checkpoint is None:
            return
        self.tabs.setTabToolTip(index, f"{tab.address}\n{tab.checkpoint.facts.get('remote', '')}")
        if self.distribution is not None and self.tabs.currentWidget() is tab and tab.selection:
            self.distribution.show_selection(tab.selection)

    def _start_open(self, tab: CheckpointTab) -> None:
        path = tab.address or tab.path

        def run(progress, cancelled) -> Checkpoint:
            from core import open_checkpoint  # noqa: PLC0415 — the engine loads on first open

            def report(done: int, total: int) -> None:
                if cancelled():
                    raise Cancelled()
                progress(done, total)

            with heap.building():
                return open_checkpoint(path, progress=report)

        job = Job(run)
        tab.job = job
        self._jobs[job] = tab
        job.signals.finished.connect(lambda result, j=job: self._loaded(j, result))
        job.signals.failed.connect(lambda message, j=job: self._failed(j, message))
        job.signals.cancelled.connect(lambda j=job: self._cancelled(j))
        job.signals.progress.connect(lambda done, total: self._progress(done, total))
        job.start()
        tab.status = f"Opening {tab.address or tab.path.name} …"
        if self.tabs.currentWidget() is tab:
            self.statusBar().showMessage(tab.status)
        self._progress_timer.start()

    def _job_over(self, job: Job) -> CheckpointTab | None:
        """Forget a finished job; its tab if that is still open and waiting for it."""
        tab = self._jobs.pop(job, None)
        if tab is not None:
            tab.job = None
        QTimer.singleShot(0, self._after_job)
        return tab

    def _after_job(self) -> None:
        self._update_progress()
        if not self._jobs:
            self.settled.emit()

    def _loaded(self, job: Job, checkpoint: Checkpoint) -> None:
        tab = self._job_over(job)
        if tab is not None and tab.checkpoint is not None:
            self._reloaded(tab, checkpoint)
        elif tab is not None:
            seconds = time.perf_counter() - tab.started
            tab.show_checkpoint(checkpoint)
            if not self._plots_made and tab.tree is not None:
                after_first_paint(tab.tree.view.viewport(), lambda: self.distribution)
            self.watcher.watch(tab, checkpoint.files)
            tab.selectionChanged.connect(lambda paths, t=tab: self._selection_changed(t, paths))
            index = self.tabs.indexOf(tab)
            self.tabs.setTabText(index, tab.title)
            files = len(checkpoint.files)
            tab.status = (
                f"Opened {checkpoint.name} in {seconds:.2f} s · "
                f"{units.exact(checkpoint.totals.tensors)} tensors · "
                f"{files} file{'s' if files != 1 else ''}"
                + (f" · {checkpoint.facts['remote']}" if tab.address else "")
            )
            if tab.address:
                tab.path = checkpoint.path  # the local mirror of its headers
                self.tabs.setTabToolTip(index, f"{tab.address}\n{checkpoint.facts['remote']}")
            self._relate_adapters()
            if self.tabs.currentWidget() is tab:
                self._current_changed(index)
            self.opened.emit(tab)

    def _relate_adapters(self) -> None:
        """An adapter's share of its base shows as soon as the base is open in another tab."""
        opened = [
            t.checkpoint
            for t in map(self.tabs.widget, range(self.tabs.count()))
            if isinstance(t, CheckpointTab) and t.checkpoint is not None
        ]
        for tab in map(self.tabs.widget, range(self.tabs.count())):
            if not isinstance(tab, CheckpointTab) or tab.checkpoint is None:
                continue
            if needs_base(tab.checkpoint) and any(
                relate_to_base(tab.checkpoint, base) for base in opened
            ):
                tab.summary.refresh()

    def _failed(self, job: Job, message: str) -> None:
        tab = self._job_over(job)
        if tab is not None and tab.checkpoint is not None:  # a reload: keep what it showed
            tab.reload_bar.offer(f"Could not reload: {message}")
        elif tab is not None:
            self.settings.remove_recent(tab.path)
            self._remove_tab(tab)
            self.report_error(message)
            self.failed.emit(str(tab.path), message)

    def _cancelled(self, job: Job) -> None:
        tab = self._job_over(job)
        if tab is not None and tab.checkpoint is not None:
            tab.reload_bar.offer(changed_message(self.watcher.changed_files(tab), tab.path.name))
        elif tab is not None:
            self._remove_tab(tab)
            self.statusBar().showMessage(f"Stopped opening {tab.path.name}", 5000)

    # --- files that change on disk -------------------------------------------------------------

    def _file_changed(self, tab: CheckpointTab) -> None:
        if tab.job is None:
            files = self.watcher.changed_files(tab)
            tab.reload_bar.offer(changed_message(files, tab.path.name) + " — reload to see it")

    def _job_message(self, message: str) -> None:
        """A panel's job ended with this message: a file that changed under it offers Reload."""
        if CHANGED in message:
            self.file_changed_under_job(message)
        else:
            self.statusBar().showMessage(message, 8000)

    def file_changed_under_job(self, message: str) -> None:
        tab = self.current_tab()
        if tab is not None and tab.checkpoint is not None and tab.job is None:
            tab.reload_bar.offer(message)
        self.statusBar().showMessage(message, 8000)

    def reload_tab(self, tab: CheckpointTab) -> None:
        """Open the tab's file again; the views keep their place and the pending edits."""
        if tab.job is not None or tab.checkpoint is None:
            return
        tab.place = Place.of(tab.tree) if tab.tree is not None else None
        tab.reload_bar.reloading(tab.path.name)
        tab.started = time.perf_counter()
        self._start_open(tab)

    def _reloaded(self, tab: CheckpointTab, checkpoint: Checkpoint) -> None:
        old = tab.checkpoint
        if self._distribution is not None and self._distribution.checkpoint is old:
            self._distribution.cancel()
        tab.drop_views()
        tab.show_checkpoint(checkpoint)
        tab.reload_bar.hide()
        self.watcher.watch(tab, checkpoint.files)
        if self.hparams is not None and old is not None:
            self.hparams.carry_over(old, checkpoint)
        if self.tabs.currentWidget() is tab:
            self._current_changed(self.tabs.indexOf(tab))
        if tab.place is not None and tab.tree is not None:
            tab.place.restore(tab.tree)
            tab.place = None
        self.statusBar().showMessage(f"Reloaded {checkpoint.name}", 5000)
        self._relate_adapters()

    def report_error(self, message: str) -> None:
        self.banner.add(message)
        self.statusBar().showMessage(message, 15000)

    def cancel_loading(self) -> None:
        for index in reversed(range(self.tabs.count())):
            tab = self.tabs.widget(index)
            if isinstance(tab, CheckpointTab) and tab.is_loading:
                self.close_tab(index)

    def loading_jobs(self) -> list[Job]:
        return list(self._jobs)

    def _progress(self, done: int, total: int) -> None:
        if total > 0 and self._progress_shown:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _update_progress(self, reveal: bool = False) -> None:
        """Progress and Cancel in the status bar while anything opens; `reveal` comes from the
        delay timer, so opens that finish at once never flash a bar."""
        loading = [
            self.tabs.widget(i)
            for i in range(self.tabs.count())
            if isinstance(self.tabs.widget(i), CheckpointTab) and self.tabs.widget(i).is_loading
        ]
        busy = bool(loading)
        if busy and not self._progress_shown and not reveal:
            return
        self._progress_shown = busy
        if busy:
            names = ", ".join(t.path.name for t in loading[:2]) + (" …" if len(loading) > 2 else "")
            self.progress_label.setText(f"Opening {names}")
            self.progress.setRange(0, 0)
        for widget in (self.progress_label, self.progress, self.cancel_button):
            widget.setVisible(busy)

    # --- dialogs and recent files ---------------------------------------------------------------

    def _start_folder(self) -> str:
        recent = self.settings.recent()
        return str(Path(recent[0]).parent) if recent else str(Path.home())

    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self,
            "Open checkpoints",
            self._start_folder(),
            "Checkpoints (*.safetensors *.pt *.pth *.bin *.ckpt *.gguf *.onnx *.npy *.npz "
            "*.json *.h5 *.keras);;All files (*)",
        )
        self.open_paths(paths)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a model folder", self._start_folder())
        if folder:
            self.open_path(folder)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent()
        for number, path in enumerate(recent, start=1):
            label = f"&{number % 10} {Path(path).name}" if number <= 10 else Path(path).name
            action = self.recent_menu.addAction(label, lambda p=path: self.open_path(p))
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setEnabled(Path(path).exists())
        if not recent:
            self.recent_menu.addAction("No recent files").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear the list", self._clear_recent)

    def _clear_recent(self) -> None:
        self.settings.clear_recent()
        self._refresh_empty()

    # --- tabs -------------------------------------------------------------------------------------

    def current_tab(self) -> CheckpointTab | None:
        tab = self.tabs.currentWidget()
        return tab if isinstance(tab, CheckpointTab) else None

    def close_current(self) -> None:
        if self.tabs.currentIndex() >= 0:
            self.close_tab(self.tabs.currentIndex())

    def close_tab(self, index: int) -> None:
        tab = self.tabs.widget(index)
        if isinstance(tab, CheckpointTab) and self._edits_settled([tab], "its tab"):
            self._remove_tab(tab)
        elif "gui.compare_tab" in sys.modules:  # else no compare tab was ever opened
            _compare().close(self, tab)

    def _remove_tab(self, tab: CheckpointTab) -> None:
        if tab.job is not None:  # still opening: stop it; its result, if any, is ignored
            tab.job.cancel()
            self._jobs[tab.job] = None
            tab.job = None
        if tab.health is not None:
            tab.health.cancel()
        if tab.spectra is not None:
            tab.spectra.cancel()
        self.watcher.unwatch(tab)
        if self.hparams is not None and tab.checkpoint is not None:
            self.hparams.forget(tab.checkpoint)
        self.tabs.removeTab(self.tabs.indexOf(tab))
        # once the tab is gone, the checkpoint it showed can be collected
        tab.destroyed.connect(lambda: QTimer.singleShot(0, heap.release))
        tab.deleteLater()
        self._update_progress()
        if self.tabs.count() == 0:
            self._current_changed(-1)

    def _current_changed(self, _index: int) -> None:
        tab = self.current_tab()
        checkpoint = tab.checkpoint if tab is not None else None
        self.setWindowTitle(f"ParamScope — {tab.title}" if tab is not None else "ParamScope")
        # the status line speaks of the tab in front, not of the file opened last
        self.statusBar().showMessage(tab.status if tab is not None else "")
        if self.tabs.count() == 0:
            self._refresh_empty()
        if self._distribution is not None:  # else it takes the current tab when made
            self._distribution.set_checkpoint(checkpoint)
            if checkpoint is not None and tab is not None and tab.selection:
                self._distribution.show_selection(tab.selection)
        if self.hparams is not None:
            self.hparams.set_checkpoint(checkpoint)
            if checkpoint is not None and tab is not None and tab.selection:
                self.hparams.highlight_for(tab.selection)
        if self._memory is not None:  # else it takes the current tab when made
            self._memory.set_checkpoint(checkpoint)
        self._show_values(tab, tab.selection if tab is not None else [])
        self._update_actions()

    def _tab_menu(self, position) -> None:
        index = self.tabs.tabBar().tabAt(position)
        tab = self.tabs.widget(index)
        if not isinstance(tab, CheckpointTab):
            return
        menu = QMenu(self)
        menu.addAction("&Close", lambda: self.close_tab(self.tabs.indexOf(tab)))
        others = menu.addAction("Close &Others", lambda: self.close_others(tab))
        others.setEnabled(self.tabs.count() > 1)
        menu.addSeparator()
        menu.addAction("Copy &Path", lambda: QGuiApplication.clipboard().setText(str(tab.path)))
        folder = tab.path if tab.path.is_dir() else tab.path.parent
        menu.addAction(
            "Show in &Folder",
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))),
        )
        menu.exec(self.tabs.tabBar().mapToGlobal(position))

    def close_others(self, keep: CheckpointTab) -> None:
        for index in reversed(range(self.tabs.count())):
            if self.tabs.widget(index) is not keep:
                self.close_tab(index)

    def _refresh_empty(self) -> None:
        self.empty.set_recent(self.settings.recent())
        if self.tabs.count() == 0:
            self.stack.setCurrentWidget(self.empty)
        self._docks_for_empty(self.tabs.count() == 0)

    def _docks_for_empty(self, empty: bool) -> None:
        """With nothing open the page is the whole window; the docks come back with a file."""
        docks = (self.dist_dock, self.values_dock, self.hparams_dock, self.memory_dock)
        if empty and self._dock_visibility is None:
            self._dock_visibility = {dock: not dock.isHidden() for dock in docks}
            for dock in docks:
                dock.hide()
        elif not empty and self._dock_visibility is not None:
            for dock, visible in self._dock_visibility.items():
                dock.setVisible(visible)
            self._dock_visibility = None
            self._size_docks_once()

    def _update_actions(self) -> None:
        tab = self.current_tab()
        has_tree = tab is not None and tab.tree is not None
        for action in (self.expand_action, self.collapse_action, self.find_action):
            action.setEnabled(has_tree)
        self.close_action.setEnabled(tab is not None)
        self.fetch_action.setEnabled(
            tab is not None and bool(tab.address) and tab.checkpoint is not None
        )

    # --- panels -----------------------------------------------------------------------------------

    def _hparams_actions(self) -> list[QAction]:
        panel = self.hparams
        names = ("export_action", "save_beside_action", "add_action", "reset_action", "diff_action")
        return [getattr(panel, n) for n in names if isinstance(getattr(panel, n, None), QAction)]

    def _selection_changed(self, tab: CheckpointTab, paths: list[str]) -> None:
        if tab is not self.current_tab():
            return
        if self._distribution is not None:
            self._distribution.show_selection(paths)
        else:
            if tab.checkpoint is not None:  # read beside the plots' loading, found in the cache
                self._prefetch = prefetch_histogram(tab.checkpoint, paths)
            _ = self.distribution  # made now, it shows the tab's selection (this one)
        if self.hparams is not None:
            self.hparams.highlight_for(paths)
        self._show_values(tab, paths)

    def _show_values(self, tab: CheckpointTab | None, paths: list[str]) -> None:
        checkpoint = tab.checkpoint if tab is not None else None
        tensor = checkpoint.tensor(paths[0]) if checkpoint is not None and len(paths) == 1 else None
        self.values.set_tensor(checkpoint, tensor)

    # --- edit and view ----------------------------------------------------------------------------

    def focus_find(self) -> None:
        tab = self.current_tab()
        if tab is not None and tab.tree is not None:
            tab.tree.focus_find()

    def copy(self) -> None:
        tab = self.current_tab()
        if tab is not None and tab.tree is not None:
            tab.tree.copy()

    def check_health(self) -> None:
        tab = self.current_tab()
        if tab is not None and tab.health is not None:
            tab.health.start()

    def compute_spectra(self) -> None:
        tab = self.current_tab()
        if tab is not None and tab.spectra is not None:
            tab.spectra.start()

    def select_flagged(self, step: int) -> None:
        tab = self.current_tab()
        if tab is None or tab.tree is None:
            return
        if tab.tree.select_flagged(step) is None:
            self.statusBar().showMessage("No flagged tensors (View ▸ Check Health first)", 5000)

    def health_checks(self) -> list[HealthLine]:
        """Health checks still running, in any tab."""
        return [
            tab.health
            for tab in map(self.tabs.widget, range(self.tabs.count()))
            if isinstance(tab, CheckpointTab) and tab.health is not None and tab.health.busy
        ]

    def expand_all(self) -> None:
        tab = self.current_tab()
        if tab is not None and tab.tree is not None and not tab.tree.expand_all():
            self.statusBar().showMessage(
                "Expanded the levels that fit: every row of this many tensors would freeze the "
                "window; use Find to reach any of them",
                8000,
            )

    def collapse_all(self) -> None:
        tab = self.current_tab()
        if tab is not None and tab.tree is not None:
            tab.tree.view.collapseAll()

    def bring_to_front(self) -> None:
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    # --- drag and drop ----------------------------------------------------------------------------

    @staticmethod
    def _local_paths(urls: list[QUrl]) -> list[Path]:
        return [Path(u.toLocalFile()) for u in urls if u.isLocalFile() and u.toLocalFile()]

    @staticmethod
    def _sort_drop(paths: list[Path]) -> tuple[list[Path], list[str]]:
        """Which dropped paths ParamScope can open, and why the others cannot be."""
        from core.sniff import find_reader  # noqa: PLC0415 — a cheap look at the first bytes

        good: list[Path] = []
        refused: list[str] = []
        for path in paths:
            try:
                find_reader(path)
            except CheckpointError as error:
                refused.append(str(error))
            else:
                good.append(path)
        return good, refused

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        paths = self._local_paths(urls)
        if not paths:
            links = remote_addresses(urls)
            if links:  # a link dragged from a browser: its headers are fetched, nothing else
                self.overlay.show_message(
                    "Open from the network (headers only):\n" + "\n".join(links[:3]), True
                )
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
                return
            others = [u.toDisplayString() for u in urls if not u.isLocalFile()]
            if not others:
                event.ignore()
                return
            self.overlay.show_message(
                "ParamScope opens https links and files on this computer:\n"
                + "\n".join(others[:3]),
                False,
            )
            event.accept()
            return
        good, refused = self._sort_drop(paths)
        if good:
            names = ", ".join(p.name for p in good[:3]) + (" …" if len(good) > 3 else "")
            text = f"Open {len(good)} checkpoint{'s' if len(good) > 1 else ''}: {names}"
            skipped = [p.name for p in paths if p not in good]
            if skipped:
                more = f" and {len(skipped) - 2} more" if len(skipped) > 2 else ""
                text += f"\n(skipped, not checkpoints: {', '.join(skipped[:2])}{more})"
        else:
            text = "Not a checkpoint ParamScope can read:\n" + "\n".join(refused[:3])
        self.overlay.show_message(text, bool(good))
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self.overlay.isVisible() and self.overlay.ok:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        self.overlay.hide()
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:
        self.overlay.hide()
        paths = self._local_paths(event.mimeData().urls()) if event.mimeData().hasUrls() else []
        links = (
            []
            if paths or not event.mimeData().hasUrls()
            else remote_addresses(event.mimeData().urls())
        )
        if links:
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self.open_paths(links)
            return
        good, refused = self._sort_drop(paths)
        for message in refused:
            self.report_error(message)
        if good:
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            if not _compare().shift_drop(self, good, event.modifiers()):
                self.open_paths(good)
        else:
            event.ignore()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.oldSize() != event.size() and self.isVisible():
            self._keep_dock_shares(event.oldSize())
        if self.overlay.isVisible():
            self.overlay.setGeometry(self.rect())

    # --- helpers for tests and smoke runs ---------------------------------------------------------

    def select_largest_tensor(self) -> str | None:
        """Select the biggest weight of the current checkpoint (for screenshots and self-tests)."""
        tab = self.current_tab()
        if tab is None or tab.checkpoint is None or tab.tree is None:
            return None
        weights = [
            t
            for t in tab.checkpoint.tensors
            if t.is_parameter and t.kind == "weight" and t.role != "embedding" and t.source
        ]
        if not weights:
            return None
        # a weight of the first block shows the tree's structure better than a lone head
        in_first_block = [t for t in weights if re.search(r"\.0\.", t.name)]
        best = max(in_first_block or weights, key=lambda t: t.numel)
        tab.tree.select_path(best.name)
        tab.tree.fit_names()
        return best.name


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a == b or os.path.samefile(a, b)
    except OSError:
        return False


def _with_key(action: QAction, standard: QKeySequence.StandardKey, key: str) -> None:
    """All of the platform's standard keys for `action` (a standard key given to setShortcut
    stands for its first binding only: Ctrl+F4 for Close, where Ctrl+W comes second), and `key`."""
    keys = QKeySequence.keyBindings(standard)
    if QKeySequence(key) not in keys:
        keys.append(QKeySequence(key))
    action.setShortcuts(keys)
