"""Views whose data is smaller than their element count (torch's expand, broadcasts): statistics
come from the values stored, each counted as often as the view shows it — never by visiting
10**12 elements. And a strided view whose file was cut short is a clear error."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from core import stats
from core.errors import CheckpointError
from core.open import open_checkpoint


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    stats.clear_cache()


def test_a_stride_0_view_of_2_40_elements_is_summarised_from_its_one_value(
    tmp_path: Path,
) -> None:
    path = tmp_path / "expand.pt"
    torch.save({"x": torch.full((1,), 2.5).expand(2**40)}, path)
    assert path.stat().st_size < 2000
    (t,) = open_checkpoint(path).tensors
    assert t.source is not None and t.source.strides == (0,)
    done: list[tuple[int, int]] = []
    result = stats.tensor_stats(t, progress=lambda d, n: done.append((d, n)), workers=0)
    assert result.numel == 2**40 and result.finite == 2**40
    assert result.min == result.max == result.mean == 2.5
    assert result.std == 0.0 and result.zeros == 0
    assert result.l2 == pytest.approx(2.5 * 2**20)
    assert int(result.counts.sum()) == 2**40
    assert result.percentiles == {p: 2.5 for p in stats.PERCENTILES}
    assert done[-1][0] == done[-1][1] and done[-1][1] <= 1 << 20  # bytes read, not 4 TiB


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.int8, torch.float64])
def test_broadcast_views_match_numpy_over_their_materialised_values(
    tmp_path: Path, dtype: torch.dtype
) -> None:
    base = torch.tensor([[-3.0], [0.0], [1.5], [7.0]]).to(dtype)
    views = {
        "rows": base.expand(4, 6),  # strides (1, 0)
        "cols": base.reshape(1, 4).expand(5, 4),  # strides (0, 1)
        "both": base.reshape(2, 1, 2, 1).expand(2, 3, 2, 7),
        "transposed": base.reshape(2, 2).t().unsqueeze(0).expand(3, 2, 2),
    }
    path = tmp_path / "views.pt"
    torch.save(views, path)
    checkpoint = open_checkpoint(path)
    for name, view in views.items():
        t = checkpoint.tensor(name)
        assert t is not None and t.source is not None and 0 in (t.source.strides or ())
        values = view.to(torch.float64).numpy().reshape(-1)
        result = stats.tensor_stats(t, bins=16, workers=0)
        assert result.numel == values.size
        assert result.min == values.min() and result.max == values.max()
        assert result.mean == pytest.approx(values.mean(), rel=1e-12)
        assert result.std == pytest.approx(values.std(), rel=1e-12)
        assert result.zeros == int(np.count_nonzero(values == 0))
        expected, _ = np.histogram(values, 16, range=(values.min(), values.max()))
        assert result.counts.tolist() == expected.tolist()
        assert result.percentiles is not None
        for p, v in result.percentiles.items():
            assert v == pytest.approx(np.percentile(values, p), rel=1e-12, abs=1e-12)
    together = stats.many_stats(checkpoint.tensors, bins=8, workers=0)
    assert [r.numel for r in together] == [math.prod(v.shape) for v in views.values()]


def test_overlapping_strides_beyond_the_limit_are_refused(tmp_path: Path) -> None:
    stored = torch.arange(float(2**17))
    view = torch.as_strided(stored, (2**16, 2**16), (1, 1))  # a sliding window, 2**32 elements
    path = tmp_path / "unfold.pt"
    torch.save({"w": view}, path)
    (t,) = open_checkpoint(path).tensors
    if t.source is None:  # the reader refused the view itself: also fine
        return
    with pytest.raises(CheckpointError, match="overlapping strides"):
        stats.tensor_stats(t, workers=0)


def test_a_transposed_tensor_in_a_file_cut_short_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "transposed.pt"
    torch.save({"w": torch.arange(600.0).reshape(20, 30).t()}, path)
    (t,) = open_checkpoint(path).tensors
    assert t.source is not None and t.source.strides is not None
    (unit,) = stats._units_of(t, stats._key(t), "moments", stats.CHUNK_BYTES)
    with open(path, "r+b") as f:  # the file is cut short after it was opened
        f.truncate(t.source.offset + 100)
    with pytest.raises(
        CheckpointError, match="ends inside a tensor's data|changed while it was read"
    ):
        stats._run_unit(unit)
