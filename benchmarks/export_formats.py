"""How long exporting hyperparameters takes in every format, for the two documents that took
minutes in TOML through tomlkit (issue 14): a 21,843-entry `id2label` (ImageNet-21k) and a
200,000-value list. Also doubles each size once: an export in linear time takes about twice as
long for twice the data (tomlkit's took about four times as long).

    .venv/bin/python benchmarks/export_formats.py [--tomlkit]

`--tomlkit` also times the old path (tomlkit) for the smaller sizes, for comparison.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.hparams.export import export  # noqa: E402


def documents(scale: int) -> dict[str, dict]:
    return {
        f"id2label {21_843 * scale:,}": {
            "id2label": {str(i): f"n{i:08d} label" for i in range(21_843 * scale)}
        },
        f"list {200_000 * scale:,}": {"values": [i * 0.5 for i in range(200_000 * scale)]},
    }


def _tomlkit_seconds(data: dict) -> float:
    import tomlkit

    start = time.perf_counter()
    document = tomlkit.document()
    for key, value in data.items():
        document.add(key, value)
    tomlkit.dumps(document)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tomlkit", action="store_true", help="time tomlkit too (minutes)")
    args = parser.parse_args()
    print(f"{'document':<22}{'format':<8}{'seconds':>9}  {'x2 data':>9}  ratio")
    with tempfile.TemporaryDirectory() as folder:
        for (name, data), double in zip(documents(1).items(), documents(2).values(), strict=True):
            for fmt in ("yaml", "json", "toml"):
                target = Path(folder) / f"out.{fmt}"
                times = []
                for payload in (data, double):
                    start = time.perf_counter()
                    export(payload, target)
                    times.append(time.perf_counter() - start)
                if fmt == "toml":
                    assert tomllib.loads(target.read_text()) == double
                print(
                    f"{name:<22}{fmt:<8}{times[0]:>9.2f}  {times[1]:>9.2f}  "
                    f"{times[1] / times[0]:.1f}"
                )
            if args.tomlkit:
                print(f"{name:<22}{'tomlkit':<8}{_tomlkit_seconds(data):>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
