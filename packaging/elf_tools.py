"""What the Linux bundle's ELF files ask of the system, and one repair, without binutils.

- `glibc_floor(folder)`: the newest `GLIBC_x.y` symbol version any ELF file in the folder needs,
  read from its `.gnu.version_r` section. The .deb declares `libc6 (>= x.y)` from it, so that an
  older system refuses the install instead of failing when the app starts.
- `external_libraries(folder)`: the DT_NEEDED sonames no file in the folder provides, i.e. what
  the package has to depend on.
- `drop_foreign_runpath(path)`: remove a DT_RUNPATH/DT_RPATH that points outside the bundle (the
  build machine's Python, `/root/.pyenv/...`), keeping `$ORIGIN` entries. Like `chrpath -d`, the
  dynamic entries after it move up one slot and a DT_NULL fills the end, so no section moves.

Used by packaging/paramscope.spec (at bundle time) and packaging/linux/build_deb.sh (as a script:
`python3 packaging/elf_tools.py glibc-floor|external DIR`). Standard library only: the spec and
the .deb build run it with whatever Python is at hand.
"""

from __future__ import annotations

import re
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SHT_DYNAMIC = 6
SHT_GNU_VERNEED = 0x6FFFFFFE
DT_NULL, DT_NEEDED, DT_RPATH, DT_RUNPATH = 0, 1, 15, 29
GLIBC_VERSION = re.compile(r"^GLIBC_(\d+(?:\.\d+)+)$")


@dataclass(frozen=True)
class Section:
    kind: int
    offset: int
    size: int
    link: int
    info: int
    entsize: int


@dataclass
class Elf:
    """The few parts of an ELF file read here: its sections and integer layout."""

    path: Path
    data: bytes
    endian: str  # "<" or ">"
    is64: bool
    sections: list[Section]

    def string(self, table: Section, offset: int) -> str:
        start = table.offset + offset
        return self.data[start : self.data.index(b"\0", start)].decode("utf-8", "replace")

    def dynamic(self) -> tuple[Section, list[tuple[int, int]]] | None:
        """The dynamic section and its (tag, value) entries up to the first DT_NULL."""
        for section in self.sections:
            if section.kind == SHT_DYNAMIC:
                fmt = self.endian + ("qQ" if self.is64 else "iI")
                step = struct.calcsize(fmt)
                entries = []
                for pos in range(section.offset, section.offset + section.size, step):
                    tag, value = struct.unpack_from(fmt, self.data, pos)
                    if tag == DT_NULL:
                        break
                    entries.append((tag, value))
                return section, entries
        return None


def read_elf(path: Path) -> Elf | None:
    """The ELF file at `path`, or None when it is not one (scripts, data, symlinks)."""
    if path.is_symlink() or not path.is_file():
        return None
    with open(path, "rb") as handle:
        if handle.read(4) != b"\x7fELF":
            return None
        data = b"\x7fELF" + handle.read()
    is64 = data[4] == 2
    endian = "<" if data[5] == 1 else ">"
    if is64:
        shoff, shentsize, shnum = (
            struct.unpack_from(endian + "Q", data, 0x28)[0],
            *struct.unpack_from(endian + "HH", data, 0x3A),
        )
        fmt = endian + "IIQQQQIIQQ"
    else:
        shoff, shentsize, shnum = (
            struct.unpack_from(endian + "I", data, 0x20)[0],
            *struct.unpack_from(endian + "HH", data, 0x2E),
        )
        fmt = endian + "IIIIIIIIII"
    sections = []
    for index in range(shnum):
        _, kind, _, _, offset, size, link, info, _, entsize = struct.unpack_from(
            fmt, data, shoff + index * shentsize
        )
        sections.append(Section(kind, offset, size, link, info, entsize))
    return Elf(path, data, endian, is64, sections)


def elf_files(folder: Path) -> Iterator[Elf]:
    for path in sorted(folder.rglob("*")):
        elf = read_elf(path)
        if elf is not None:
            yield elf


def version_needs(elf: Elf) -> set[str]:
    """The symbol versions (GLIBC_2.34, GLIBCXX_3.4.29, …) the file needs from other files."""
    names = set()
    for section in elf.sections:
        if section.kind != SHT_GNU_VERNEED:
            continue
        strtab = elf.sections[section.link]
        pos = section.offset
        for _ in range(section.info):
            _, count, _, aux, following = struct.unpack_from(elf.endian + "HHIII", elf.data, pos)
            aux_pos = pos + aux
            for _ in range(count):
                _, _, _, name, aux_next = struct.unpack_from(
                    elf.endian + "IHHII", elf.data, aux_pos
                )
                names.add(elf.string(strtab, name))
                aux_pos += aux_next
            pos += following
    return names


def glibc_floor(folder: Path) -> str | None:
    """The newest GLIBC_x.y version any ELF file under `folder` needs ("2.36"), or None."""
    versions = set()
    for elf in elf_files(folder):
        for name in version_needs(elf):
            match = GLIBC_VERSION.match(name)
            if match:
                versions.add(tuple(int(part) for part in match.group(1).split(".")))
    return ".".join(map(str, max(versions))) if versions else None


def needed(elf: Elf) -> list[str]:
    found = elf.dynamic()
    if found is None:
        return []
    section, entries = found
    strtab = elf.sections[section.link]
    return [elf.string(strtab, value) for tag, value in entries if tag == DT_NEEDED]


def external_libraries(folder: Path) -> list[str]:
    """Sonames that ELF files under `folder` need and that no file there provides."""
    provided = {path.name for path in folder.rglob("*.so*")}
    wanted = {name for elf in elf_files(folder) for name in needed(elf)}
    return sorted(wanted - provided)


def runpaths(elf: Elf) -> list[str]:
    found = elf.dynamic()
    if found is None:
        return []
    section, entries = found
    strtab = elf.sections[section.link]
    return [elf.string(strtab, v) for tag, v in entries if tag in (DT_RPATH, DT_RUNPATH)]


def drop_foreign_runpath(path: Path) -> bool:
    """Remove RUNPATH/RPATH entries that name no `$ORIGIN` folder; True when the file changed.

    An entry mixing both keeps its `$ORIGIN` parts, rewritten in place (it only gets shorter).
    """
    elf = read_elf(path)
    found = elf.dynamic() if elf else None
    if elf is None or found is None:
        return False
    section, entries = found
    strtab = elf.sections[section.link]
    data = bytearray(elf.data)
    kept: list[tuple[int, int]] = []
    changed = False
    for tag, value in entries:
        if tag not in (DT_RPATH, DT_RUNPATH):
            kept.append((tag, value))
            continue
        parts = elf.string(strtab, value).split(":")
        local = [part for part in parts if part.startswith("$ORIGIN")]
        if local == parts:
            kept.append((tag, value))
            continue
        changed = True
        if local:
            start = strtab.offset + value
            old = len(":".join(parts))
            new = ":".join(local).encode()
            data[start : start + old] = new + b"\0" * (old - len(new))
            kept.append((tag, value))
    if not changed:
        return False
    fmt = elf.endian + ("qQ" if elf.is64 else "iI")
    step = struct.calcsize(fmt)
    slots = section.size // step
    for index in range(slots):
        tag, value = kept[index] if index < len(kept) else (DT_NULL, 0)
        struct.pack_into(fmt, data, section.offset + index * step, tag, value)
    path.write_bytes(bytes(data))
    return True


def main(argv: list[str]) -> int:
    usage = "usage: elf_tools.py glibc-floor|external|runpaths FOLDER"
    if len(argv) != 2:
        print(usage, file=sys.stderr)
        return 2
    command, folder = argv[0], Path(argv[1])
    if command == "glibc-floor":
        print(glibc_floor(folder) or "")
    elif command == "external":
        print("\n".join(external_libraries(folder)))
    elif command == "runpaths":
        for elf in elf_files(folder):
            for runpath in runpaths(elf):
                print(f"{elf.path.relative_to(folder)}: {runpath}")
    else:
        print(usage, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
