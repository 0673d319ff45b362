"""What a health check can find in a tensor, as a person reads it (the flags `core.stats` sets).

Kept apart from the statistics engine so the window can word findings without loading numpy."""

from __future__ import annotations

OUTLIER_SIGMAS = 10.0
SPARSE_SHARE = 0.5
FLAGS: dict[str, str] = {
    "nan": "holds NaN values: something computed 0/0 or overflowed during training",
    "inf": "holds ±Inf values: something overflowed",
    "dead": "every value is zero or the same: the tensor carries no information "
    "(never trained, or a dead unit)",
    "outliers": f"its largest |x − mean| exceeds {OUTLIER_SIGMAS:g} standard deviations: "
    "extreme values (outlier features, a blown-up update, or clipping)",
    "sparse": f"more than {SPARSE_SHARE:.0%} of its values are exactly zero "
    "(pruned, masked or padded)",
}
