"""`--self-test`: the whole path a user takes, on the bundled demo, offscreen, with a report.

Opens the demo checkpoint through the window's own open function, checks the tree shows rows,
computes one tensor's statistics and reads the hyperparameters. CI runs this on the built bundle,
so a missing hidden import or data file fails the build instead of a user's first start.
"""

from __future__ import annotations

import sys
import time

from gui import demo_path


def run_self_test(window) -> int:
    from gui.app import settle

    report: list[str] = []

    def fail(reason: str) -> int:
        for line in report:
            print(line)
        print(f"self-test FAILED: {reason}", file=sys.stderr)
        return 1

    demo = demo_path()
    report.append(f"demo       {demo}")
    if not demo.exists():
        return fail(f"the bundled demo is missing: {demo}")
    errors: list[str] = []
    window.failed.connect(lambda _path, message: errors.append(message))
    started = time.perf_counter()
    tab = window.open_path(demo)
    if not settle(window, 60.0):
        return fail("opening the demo timed out")
    if errors:
        return fail(errors[0])
    if tab is None or tab.checkpoint is None or tab.tree is None:
        return fail("the demo did not open")
    checkpoint = tab.checkpoint
    rows = tab.tree.proxy.rowCount()
    report.append(
        f"opened     {checkpoint.format}, {checkpoint.totals.params:,} parameters in "
        f"{checkpoint.totals.tensors} tensors, {time.perf_counter() - started:.2f} s"
    )
    if rows <= 0:
        return fail("the layer tree has no rows")
    report.append(f"tree       {rows} top-level rows")

    from core.stats import tensor_stats

    name = window.select_largest_tensor()
    tensor = checkpoint.tensor(name) if name else None
    if tensor is None:
        return fail("no readable weight tensor in the demo")
    result = tensor_stats(tensor, workers=1)
    if result.finite != tensor.numel or result.std is None:
        return fail(f"statistics of {name} look wrong: {result.finite} finite of {tensor.numel}")
    report.append(f"stats      {name}: mean {result.mean:.4g}, std {result.std:.4g}")

    sources = {k: v for k, v in checkpoint.hyperparams.items() if v}
    if not sources:
        return fail("no hyperparameters found in the demo")
    keys = sum(len(v) for v in sources.values())
    report.append(f"hparams    {len(sources)} sources, {keys} top-level keys")

    from gui.about import versions

    missing = [name for name, version in versions() if version == "not installed"]
    if missing:
        return fail(f"About cannot name the version of {', '.join(missing)}")
    from gui.licences import bundled_file

    if bundled_file("LICENSE") is None:
        return fail("the LICENSE file is missing")
    report.append(f"about      {len(versions())} versions named, licences present")
    try:  # remote models are fetched over https: the bundle must carry ssl and OpenSSL
        import ssl

        ssl.create_default_context()
    except Exception as error:  # noqa: BLE001 — any failure here is the report's point
        return fail(f"https for remote models: {type(error).__name__}: {error}")
    report.append(f"https      {ssl.OPENSSL_VERSION}")
    try:  # configs beside checkpoints are YAML, read through libyaml (stripped in the bundle)
        import yaml

        parsed = yaml.load("lr: 1.0e-4\nbetas: [0.9, 0.95]\n", Loader=yaml.CSafeLoader)
        if parsed != {"lr": 1e-4, "betas": [0.9, 0.95]}:
            return fail(f"YAML read wrong: {parsed}")
    except Exception as error:  # noqa: BLE001 — any failure here is the report's point
        return fail(f"YAML through libyaml: {type(error).__name__}: {error}")
    report.append("yaml       libyaml")

    try:
        formats = _other_formats()
    except Exception as error:  # noqa: BLE001 — any failure here is the report's point
        return fail(f"other formats: {type(error).__name__}: {error}")
    report.append(f"formats    {formats}")
    settle(window, 30.0)
    for line in report:
        print(line)
    print("self-test passed")
    return 0


def _other_formats() -> str:
    """Write a tiny GGUF (quantised), an .npz and an HDF5 file with the libraries the bundle
    carries, open each (HDF5 in its worker process, the way a bundled app starts one) and take
    one tensor's statistics: a reader whose module or library the bundle lacks fails here."""
    import tempfile
    from pathlib import Path

    import gguf
    import h5py
    import numpy as np

    from core.open import open_checkpoint
    from core.stats import tensor_stats

    values = np.linspace(-1.0, 1.0, 64 * 32, dtype=np.float32).reshape(64, 32)
    done = []
    with tempfile.TemporaryDirectory(prefix="paramscope-selftest-") as folder:
        base = Path(folder)
        writer = gguf.GGUFWriter(str(base / "tiny.gguf"), "llama")
        writer.add_block_count(1)
        quantised = gguf.quants.quantize(values, gguf.GGMLQuantizationType.Q8_0)
        writer.add_tensor(
            "blk.0.ffn_up.weight", quantised, raw_dtype=gguf.GGMLQuantizationType.Q8_0
        )
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        np.savez_compressed(base / "tiny.npz", weight=values)
        with h5py.File(base / "tiny.h5", "w") as f:
            f.create_dataset("dense/kernel", data=values)
        for name, expected in (("tiny.gguf", "gguf"), ("tiny.npz", "numpy"), ("tiny.h5", "hdf5")):
            checkpoint = open_checkpoint(base / name)
            if checkpoint.format != expected or not checkpoint.tensors:
                raise RuntimeError(f"{name} opened as {checkpoint.format!r}")
            result = tensor_stats(checkpoint.tensors[0], workers=1)
            if result.finite != values.size or abs(result.max - 1.0) > 0.02:
                raise RuntimeError(f"{name}: statistics look wrong (max {result.max})")
            done.append(expected)
    return ", ".join(done) + " written, opened and measured"
