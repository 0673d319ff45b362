"""The application's one QSettings: recent files, window geometry and dock layout.

`--fresh` starts with nothing restored (the settings file is left alone until the window closes,
when the new layout is saved as usual), like silx view's flag of the same name.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 10
RECENT_KEY = "recent/files"
THEME_KEY = "view/theme"


class Settings:
    def __init__(self, fresh: bool = False, persist: bool = True) -> None:
        self.fresh = fresh
        self.persist = persist  # False for smoke runs (--screenshot, --self-test): write nothing
        self.store = QSettings()
        self._recent: list[str] | None = None if persist else []

    # recent files

    def recent(self) -> list[str]:
        if self._recent is not None:
            return list(self._recent)
        if self.fresh:
            return []
        return self._stored_recent()

    def _stored_recent(self) -> list[str]:
        value = self.store.value(RECENT_KEY, [])
        if isinstance(value, str):  # QSettings gives a lone string for a one-item list
            value = [value]
        return [str(v) for v in value or [] if v]

    def add_recent(self, path: str | Path) -> list[str]:
        entry = str(Path(path).expanduser().absolute())
        before = self.recent() if self._recent is not None else self._stored_recent()
        return self._set_recent([entry] + [p for p in before if p != entry])

    def remove_recent(self, path: str | Path) -> list[str]:
        entry = str(Path(path).expanduser().absolute())
        before = self.recent() if self._recent is not None else self._stored_recent()
        return self._set_recent([p for p in before if p != entry])

    def _set_recent(self, recent: list[str]) -> list[str]:
        recent = recent[:MAX_RECENT]
        if not self.persist:
            self._recent = recent
            return recent
        self.store.setValue(RECENT_KEY, recent)
        self.fresh = False  # the list now holds this session's files: show it
        return recent

    def clear_recent(self) -> None:
        if self.persist:
            self.store.setValue(RECENT_KEY, [])
        else:
            self._recent = []

    # theme (gui/theme.py): "system", "light" or "dark"

    def theme(self) -> str:
        if self.fresh:
            return "system"
        return str(self.store.value(THEME_KEY, "system") or "system")

    def set_theme(self, name: str) -> None:
        if self.persist:
            self.store.setValue(THEME_KEY, name)

    # window layout

    def restore(self, key: str) -> QByteArray | None:
        if self.fresh:
            return None
        value = self.store.value(f"window/{key}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save(self, key: str, value: QByteArray) -> None:
        if self.persist:
            self.store.setValue(f"window/{key}", value)

    def sync(self) -> None:
        if self.persist:
            self.store.sync()
