"""Remote models opened from their headers alone, against a loopback Hub (tests/remote_server.py):
a sharded model transfers only its headers and configs, the token stays with the Hub's own host,
errors say what to do, a server that ignores Range is refused, slow servers time out or are
cancelled, and a model opened once reopens offline from the cache."""

from __future__ import annotations

import json
import math
import struct
import threading
import time
from pathlib import Path

import pytest

from core import memory_plan, remote
from core.cli import main as cli_main
from core.errors import Cancelled, CheckpointError
from core.open import open_checkpoint
from tests.remote_server import Hub, Repo
from tests.sparse_models import LLAMA3_8B, llama3_8b_shapes, write_sparse_model

COMMIT = "abc1234def5678abc1234def5678abc1234def56"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    server = Hub().start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    monkeypatch.setenv("PARAMSCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no token file of the user's
    yield server
    server.stop()


@pytest.fixture
def llama(tmp_path: Path, hub: Hub) -> Path:
    """An 8B Llama-shaped model in 4 sparse shards (~16 GB apparent), with its configs."""
    folder = write_sparse_model(tmp_path / "repo", llama3_8b_shapes(), LLAMA3_8B, shards=4)
    (folder / "generation_config.json").write_text(json.dumps({"temperature": 0.6}))
    (folder / "README.md").write_text("# a model card nobody needs to fetch\n" * 100)
    hub.repos["meta/llama"] = Repo(folder, COMMIT)
    return folder


def _header_bytes(file: Path) -> int:
    with open(file, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
    return 8 + n


def test_sharded_model_opens_from_headers_and_configs_only(llama: Path, hub: Hub) -> None:
    local = open_checkpoint(llama)
    ckpt = open_checkpoint("hf://meta/llama")
    assert ckpt.totals.params == local.totals.params
    assert [t.name for t in ckpt.tensors] == [t.name for t in local.tensors]
    assert [t.shape for t in ckpt.tensors] == [t.shape for t in local.tensors]
    assert ckpt.hyperparams["config.json"]["num_key_value_heads"] == 8
    assert "generation_config.json" in ckpt.hyperparams
    assert ckpt.facts["remote"] == "remote · commit abc1234 · 0 bytes of weights downloaded"
    shards = sorted(llama.glob("*.safetensors"))
    allowed = sum(_header_bytes(s) for s in shards)
    allowed += sum(
        (llama / n).stat().st_size
        for n in ("model.safetensors.index.json", "config.json", "generation_config.json")
    )
    api_answer = 4096  # the file list
    assert hub.sent <= allowed + api_answer
    assert not any("README" in r["path"] for r in hub.requests)
    # the mirror holds real bytes of the headers only: a tensor's data is still remote
    t = ckpt.tensor("model.layers.0.mlp.up_proj.weight")
    assert remote.missing_bytes(t.source.file, t.source.offset, t.source.nbytes) == t.nbytes
    from core import stats

    with pytest.raises(remote.RemoteDataMissing, match="on the server"):
        stats.tensor_stats(t)


def test_page_url_resolve_url_and_bare_name_on_the_command_line(
    llama: Path, hub: Hub, capsys
) -> None:
    assert cli_main(["info", "meta/llama", "--json"]) == 0
    bare = json.loads(capsys.readouterr().out)
    assert remote.parse(f"{hub.endpoint}/meta/llama").repo == "meta/llama"
    page = remote.parse(f"{hub.endpoint}/meta/llama/tree/v1.0")
    assert (page.repo, page.revision) == ("meta/llama", "v1.0")
    link = remote.parse(f"{hub.endpoint}/meta/llama/resolve/main/model-00001-of-00004.safetensors")
    assert (link.repo, link.path) == ("meta/llama", "model-00001-of-00004.safetensors")
    assert cli_main(["info", str(link), "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert 0 < one["total_params"] < bare["total_params"]
    assert bare["facts"]["remote"].startswith("remote · commit abc1234")
    assert cli_main(["memory", f"{hub.endpoint}/meta/llama", "--context", "8192", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["kv_cache"]["bytes"] == 2 * 32 * 8 * 128 * 8192 * 2


def test_reopens_offline_from_the_cache(llama: Path, hub: Hub, monkeypatch) -> None:
    first = open_checkpoint("hf://meta/llama@main")
    hub.stop()  # the network is gone
    again = open_checkpoint("hf://meta/llama@main")
    assert again.totals.params == first.totals.params
    assert "offline" in again.facts["remote"]
    assert any("could not be reached" in w for w in again.warnings)
    hub.start()  # for the fixture's teardown


def test_token_goes_to_the_hub_but_never_to_the_host_a_redirect_leads_to(
    llama: Path, hub: Hub, monkeypatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    open_checkpoint("hf://meta/llama")
    api = [r for r in hub.requests if r["server"] == "api"]
    cdn = [r for r in hub.requests if r["server"] == "cdn"]
    assert api and cdn
    assert all(r["authorization"] == "Bearer hf_secret" for r in api)
    assert all(r["authorization"] is None for r in cdn)


def test_token_file_the_cli_writes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_TOKEN_PATH", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    (tmp_path / "token").write_text("hf_from_file\n")
    assert remote.token() == "hf_from_file"
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_env")
    assert remote.token() == "hf_env"


@pytest.mark.parametrize(
    ("status", "headers", "words"),
    [
        (401, {}, ("private or gated", "HF_TOKEN")),
        (403, {"X-Error-Code": "GatedRepo"}, ("gated", "accept its licence")),
        (404, {}, ("not found", "spelling")),
        (429, {"Retry-After": "30"}, ("rate-limited", "wait 30 s")),
    ],
)
def test_http_errors_say_what_to_do(llama: Path, hub: Hub, capsys, status, headers, words) -> None:
    hub.status["/api/models/meta/llama"] = (status, headers)
    with pytest.raises(remote.RemoteError) as caught:
        open_checkpoint("hf://meta/llama")
    assert caught.value.status == status
    for word in words:
        assert word in str(caught.value)
    assert cli_main(["info", "hf://meta/llama"]) == 2
    assert words[0] in capsys.readouterr().err


def test_a_dropped_connection_is_an_error_not_a_short_header(llama: Path, hub: Hub) -> None:
    hub.drop_after = 1000  # the API answer goes through, a header breaks off
    with pytest.raises(remote.RemoteError, match="dropped"):
        open_checkpoint("hf://meta/llama")


def test_a_server_that_ignores_range_is_refused_not_downloaded(tmp_path: Path, hub: Hub) -> None:
    big = write_sparse_model(tmp_path / "big", llama3_8b_shapes(4), LLAMA3_8B)
    file = big / "model.safetensors"
    hub.files["model.safetensors"] = file
    hub.ignore_range = True
    with pytest.raises(remote.RemoteError, match="ignores range requests") as caught:
        open_checkpoint(f"{hub.cdn_url}/files/model.safetensors")
    assert "download the file" in str(caught.value)
    time.sleep(0.2)
    assert hub.sent < 8 << 20  # what sat in the socket buffers, not the file's 3.8 GB


def test_a_silent_server_times_out_and_a_slow_one_can_be_cancelled(llama: Path, hub: Hub) -> None:
    hub.delay = 2.0
    started = time.monotonic()
    with pytest.raises(remote.RemoteError, match="did not answer in time"):
        remote.open_remote("hf://meta/llama", timeout=0.5)
    assert time.monotonic() - started < 1.9
    hub.delay = 0.0
    hub.dribble = 0.05  # 1 KiB every 50 ms
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        remote.open_remote("hf://meta/llama", cancelled=stop.is_set, timeout=5)
    assert time.monotonic() - started < 3


def test_gguf_header_grows_from_one_mib_by_doubling(tmp_path: Path, hub: Hub) -> None:
    import gguf
    import numpy as np

    path = tmp_path / "big-header.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(2)
    writer.add_array("tokenizer.ggml.tokens", [f"token-{i:07d}" for i in range(200_000)])  # ~4.6 MB
    for i in range(2):
        writer.add_tensor(f"blk.{i}.attn_q.weight", np.ones((1024, 2048), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    hub.files["big-header.gguf"] = path
    ckpt = open_checkpoint(f"{hub.cdn_url}/files/big-header.gguf")
    local = open_checkpoint(path)
    assert [(t.name, t.shape, t.source.offset) for t in ckpt.tensors] == [
        (t.name, t.shape, t.source.offset) for t in local.tensors
    ]
    ranges = [r["range"] for r in hub.requests]
    assert ranges[:3] == [
        "bytes=0-7",
        f"bytes=8-{(1 << 20) - 1}",
        f"bytes={1 << 20}-{(2 << 20) - 1}",
    ]
    header_end = remote.gguf_header_end(path.read_bytes())
    assert hub.sent < 2 * header_end + (1 << 20)
    assert hub.sent < path.stat().st_size


def test_pytorch_zip_reads_directory_pickle_and_local_headers(tmp_path: Path, hub: Hub) -> None:
    import torch

    from tests.checkpoints import make_model

    path = tmp_path / "pytorch_model.bin"
    state = {k: v.repeat(64, *([1] * (v.dim() - 1))) for k, v in make_model().state_dict().items()}
    torch.save(state, path)
    hub.files["pytorch_model.bin"] = path
    ckpt = open_checkpoint(f"{hub.cdn_url}/files/pytorch_model.bin")
    local = open_checkpoint(path)
    assert [(t.name, t.shape, t.source.offset) for t in ckpt.tensors] == [
        (t.name, t.shape, t.source.offset) for t in local.tensors
    ]
    data = sum(t.nbytes for t in local.tensors)
    assert hub.sent < path.stat().st_size - data + 64 * 1024


def test_stats_of_a_remote_tensor_fetch_its_range_on_request(tmp_path: Path, hub: Hub) -> None:
    from core import stats
    from tests.checkpoints import make_model, save_safetensors

    path = save_safetensors(make_model(), tmp_path / "tiny.safetensors")
    hub.files["tiny.safetensors"] = path
    ckpt = open_checkpoint(f"{hub.cdn_url}/files/tiny.safetensors")
    local = open_checkpoint(path)
    name = max(local.tensors, key=lambda t: t.numel).name
    t = ckpt.tensor(name)
    with pytest.raises(remote.RemoteDataMissing) as caught:
        stats.tensor_stats(t)
    assert caught.value.missing == t.nbytes
    assert f"{t.nbytes:,} bytes" in str(caught.value)  # the size, stated before any download
    before = t.source.file.stat().st_mtime_ns
    seen: list[tuple[int, int]] = []
    remote.fetch_range(
        t.source.file, t.source.offset, t.source.nbytes, progress=lambda d, n: seen.append((d, n))
    )
    assert seen[-1] == (t.nbytes, t.nbytes)
    assert t.source.file.stat().st_mtime_ns == before
    assert remote.missing_bytes(t.source.file, t.source.offset, t.source.nbytes) == 0
    got, want = stats.tensor_stats(t), stats.tensor_stats(local.tensor(name))
    assert (got.mean, got.std, got.min, got.max) == (want.mean, want.std, want.min, want.max)
    manifest = remote.manifest_of(t.source.file)[0]
    assert manifest.data_bytes == t.nbytes


def test_onnx_offers_a_download_of_its_size_instead_of_starting_one(
    tmp_path: Path, hub: Hub
) -> None:
    from tests.format_fixtures import write_onnx

    path = tmp_path / "model.onnx"
    write_onnx(path, external=False)
    hub.files["model.onnx"] = path
    with pytest.raises(CheckpointError, match="cannot be read from its header") as caught:
        open_checkpoint(f"{hub.cdn_url}/files/model.onnx")
    assert f"{path.stat().st_size:,} bytes" in str(caught.value)
    assert hub.sent <= 8


def test_memory_plan_of_a_remote_model(llama: Path, hub: Hub) -> None:
    plan = memory_plan.plan(open_checkpoint("hf://meta/llama"), memory_plan.Options(weights="int4"))
    assert plan.weights_bytes == math.ceil(open_checkpoint(llama).totals.params / 2)


def test_stats_on_the_command_line_fetch_only_when_asked(tmp_path: Path, hub: Hub, capsys) -> None:
    from tests.checkpoints import make_model, save_safetensors

    path = save_safetensors(make_model(), tmp_path / "tiny.safetensors")
    hub.files["tiny.safetensors"] = path
    url = f"{hub.cdn_url}/files/tiny.safetensors"
    name = max(open_checkpoint(path).tensors, key=lambda t: t.numel).name
    assert cli_main(["stats", url, "--tensor", name, "--json"]) == 2
    assert "on the server, not downloaded" in capsys.readouterr().err
    assert cli_main(["stats", path.as_posix(), "--tensor", name, "--json"]) == 0
    local = json.loads(capsys.readouterr().out)
    assert cli_main(["stats", url, "--tensor", name, "--json", "--fetch"]) == 0
    captured = capsys.readouterr()
    assert "paramscope: fetching" in captured.err and "bytes) of 1 tensor(s)" in captured.err
    fetched = json.loads(captured.out)
    assert (fetched["mean"], fetched["std"], fetched["max"]) == (
        local["mean"],
        local["std"],
        local["max"],
    )
    assert cli_main(["hparams", url]) == 0  # hparams take URLs too


def test_addresses(monkeypatch) -> None:
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    hub = remote.DEFAULT_ENDPOINT
    cases = {
        "hf://org/name": ("org/name", "main", ""),
        "hf://org/name@v2.0": ("org/name", "v2.0", ""),
        "hf://org/name@main/sub/model-Q4_K_M.gguf": ("org/name", "main", "sub/model-Q4_K_M.gguf"),
        "hf://org/name/model.safetensors": ("org/name", "main", "model.safetensors"),
        f"{hub}/org/name": ("org/name", "main", ""),
        f"{hub}/org/name/tree/dev": ("org/name", "dev", ""),
        f"{hub}/org/name/blob/main/a/b.bin": ("org/name", "main", "a/b.bin"),
    }
    for text, want in cases.items():
        target = remote.parse(text)
        assert (target.repo, target.revision, target.path) == want, text
    assert remote.parse("org/name", bare_repo=True).repo == "org/name"
    assert remote.parse("https://example.org/m.gguf?x=1").url == "https://example.org/m.gguf?x=1"
    with pytest.raises(CheckpointError, match="not an address"):
        remote.parse("org/name")  # a bare name only where a Hub id is expected
    with pytest.raises(CheckpointError, match="not an address"):
        remote.parse("ftp://example.org/m.gguf")
