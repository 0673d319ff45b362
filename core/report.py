"""A report to share: one self-contained HTML (or Markdown) file about a checkpoint.

    python main.py report PATH -o OUT.html|OUT.md [--depth N] [--top N] [--no-health]

What a person attaches to an issue or a model card: the summary (format, parameters split as
`info` splits them, dtypes, bytes), the memory table, the module tree to a depth, the health
check's findings, the largest tensors' statistics with their histograms, and the
hyperparameters with the file each came from.

The HTML loads nothing: no scripts, no fonts, no stylesheets from anywhere; the histograms are
small SVGs written here from the counts `core.stats` gives (so neither Qt nor matplotlib is
needed). Every string that comes from the file — tensor names, config values, metadata — is
escaped. Markdown gets tables and the histograms as text sparklines. Files are written
atomically (temporary file + rename). No Qt, no torch.
"""

from __future__ import annotations

import argparse
import datetime
import html
import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import __version__, units
from core.errors import Cancelled, CheckpointError
from core.health_report import HealthReport, health_report
from core.info import MEMORY_LABELS, tree_rows
from core.model import CATEGORIES, Checkpoint, TensorInfo

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]

FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}
DEFAULT_DEPTH = 3
DEFAULT_TOP = 6
HISTOGRAM_BINS = 64
MAX_FLAGGED_NAMES = 12  # names listed per health flag; the rest are counted
MAX_HPARAM_ROWS = 400
VALUE_WIDTH = 120
_SPARK = " ▁▂▃▄▅▆▇█"


@dataclass(slots=True)
class Report:
    """What a report says, gathered once; `html()` and `markdown()` only lay it out."""

    checkpoint: Checkpoint
    depth: int
    health: HealthReport | None
    health_note: str  # why there are no findings, when health is None
    largest: list[Any]  # TensorStats of the largest tensors, with histograms
    # the largest tensors whose values could not be read, with why
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    created: str = ""

    def html(self) -> str:
        return _html(self)

    def markdown(self) -> str:
        return _markdown(self)


# --- gathering --------------------------------------------------------------------------------


def largest_tensors(checkpoint: Checkpoint, top: int) -> list[TensorInfo]:
    """The `top` largest of the model's own tensors, by element count (ties once)."""
    own = [t for t in checkpoint.tensors if t.section == "model" and not t.tied_to]
    return sorted(own, key=lambda t: (-t.numel, t.name))[: max(0, top)]


def build_report(
    checkpoint: Checkpoint,
    depth: int = DEFAULT_DEPTH,
    top: int = DEFAULT_TOP,
    *,
    check_health: bool = True,
    health_results: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    workers: int | None = None,
) -> Report:
    """Read what the report needs: the health check (unless `health_results` are given, as the
    window has them, or `check_health` is off) and the largest tensors' statistics. A tensor
    whose values cannot be read is named with the reason, not left out silently."""
    from core import stats  # numpy: only when values are read
    from core.readers.truncation import REASONS

    readable = [t for t in checkpoint.tensors if stats.statistics_possible(t)]
    wanted: list[TensorInfo] = []
    unreadable: list[tuple[str, str]] = []
    for t in largest_tensors(checkpoint, top):
        if t.truncated:
            unreadable.append((t.name, REASONS[t.truncated]))
        elif not stats.statistics_possible(t):
            unreadable.append((t.name, f"values of {t.dtype} cannot be read yet"))
        else:
            wanted.append(t)
    run_health = health_results is None and check_health and bool(readable)
    # progress in bytes to read: every value once for health; a wide type's histogram takes a
    # second pass over each of the largest tensors
    sizes = [2 * t.source.nbytes for t in wanted if t.source]
    health_bytes = sum(t.source.nbytes for t in readable if t.source) if run_health else 0
    total = max(1, health_bytes + sum(sizes))

    def part(offset: int, size: int) -> ProgressFn | None:
        if progress is None:
            return None
        return lambda done, of: progress(offset + (size * done // of if of else size), total)

    results = health_results
    if run_health:
        results = stats.health(checkpoint, part(0, health_bytes), cancelled, workers=workers)
    note = "" if results is not None else "not checked"
    if not readable:
        note = "not checked: no tensor values this engine can read"
    report = health_report(checkpoint, results) if results is not None else None
    largest = []
    offset = health_bytes
    for t, size in zip(wanted, sizes, strict=True):
        try:
            largest.append(
                stats.tensor_stats(
                    t, HISTOGRAM_BINS, part(offset, size), cancelled, workers=workers
                )
            )
        except Cancelled:
            raise
        except CheckpointError as error:  # unreadable bytes: said in the report, the rest stays
            unreadable.append((t.name, str(error)))
        offset += size
        if cancelled is not None and cancelled():
            raise Cancelled()
    if progress is not None:
        progress(total, total)
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Report(checkpoint, depth, report, note, largest, unreadable, created)


def format_for(path: Path) -> str:
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise CheckpointError(path, "unknown report format", "name the file .html or .md")
    return fmt


def write_report(report: Report, target: str | Path, protect: list[Path] | None = None) -> Path:
    """Write the report as its extension says (.html/.md), atomically; never over `protect`."""
    from core.hparams.export import _same_file, write_atomic

    target = Path(target).expanduser()
    fmt = format_for(target)
    for path in protect or []:
        if _same_file(path, target):
            raise CheckpointError(
                target,
                "is one of the files this checkpoint was read from; it is never overwritten",
                "choose another file name",
            )
    text = report.html() if fmt == "html" else report.markdown()
    try:
        write_atomic(target, text)
    except OSError as error:
        raise CheckpointError(target, f"could not be written ({error.strerror or error})") from None
    return target


# --- shared pieces ----------------------------------------------------------------------------


def _number(value: float | None) -> str:
    """A statistic for reading: six significant digits (the exact value goes in a tooltip)."""
    if value is None:
        return "–"
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.6g}"
    return f"{value:.4e}"


def _exact(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _value_text(value: Any, limit: int = VALUE_WIDTH) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, float):
        text = repr(value) if math.isfinite(value) else str(value)
    elif isinstance(value, int):
        text = str(value)
    else:
        text = json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _summary_rows(c: Checkpoint) -> list[tuple[str, str]]:
    totals = c.totals
    rows = [
        ("Format", c.format + "".join(f" · {k} {v}" for k, v in c.facts.items())),
        (
            "Files",
            f"{len(c.files)} ({units.size(c.file_bytes)}, {units.exact(c.file_bytes)} bytes)",
        ),
        (
            "Parameters",
            f"{units.count(totals.params)} ({units.exact(totals.params)}) in "
            f"{units.exact(totals.tensors)} tensors",
        ),
        (
            "Parameter bytes",
            f"{units.size(totals.param_bytes)} ({units.exact(totals.param_bytes)})",
        ),
        ("All tensor bytes", f"{units.size(totals.nbytes)} ({units.exact(totals.nbytes)})"),
    ]
    if totals.buffers:
        rows.append(("Buffers", f"{units.count(totals.buffers)} ({units.exact(totals.buffers)})"))
    if totals.quant_state:
        rows.append(
            (
                "Quantisation state",
                f"{units.count(totals.quant_state)} ({units.exact(totals.quant_state)}) elements "
                "of scales and zero points: not parameters",
            )
        )
    for label, n in (
        ("Optimizer state", totals.optimizer_state),
        ("EMA / other copies", totals.copies),
        ("Other training state", totals.training_state),
    ):
        if n:
            rows.append((label, f"{units.count(n)} ({units.exact(n)}) elements"))
    if totals.tied:
        rows.append(("Tied", f"{totals.tied} tensors share another's storage (counted once)"))
    return rows


def _split_rows(c: Checkpoint) -> list[tuple[str, int, str]]:
    """Parameters by category as `info` splits them; buffers and quantisation state apart."""
    totals = c.totals
    rows = []
    for name in CATEGORIES:
        n = totals.categories.get(name, 0)
        if not n:
            continue
        share = (
            "not parameters"
            if name in ("buffers", "quantisation")
            else f"{units.percent(n, totals.params)} %"
        )
        rows.append((name, n, share))
    return rows


def _dtype_rows(c: Checkpoint) -> list[tuple[str, int, str]]:
    totals = c.totals
    return [
        (dtype, n, f"{units.percent(n, totals.params)} %")
        for dtype, n in sorted(totals.dtypes.items(), key=lambda x: -x[1])
    ]


def _hparam_rows(c: Checkpoint) -> list[tuple[str, Any, str, dict[str, Any]]]:
    """(dotted key, value, source, {other source: differing value}) of the merged set."""
    from core.hparams.edit import MERGED, HyperParamSet
    from core.hparams.merge import dotted, flatten

    if not c.hyperparams:
        return []
    hset = HyperParamSet(c.hyperparams)
    rows = []
    for path, value in flatten(hset.merged.data).items():
        if path and path[0] == "log_history":
            continue
        rows.append(
            (dotted(path), value, hset.source_of(MERGED, path), hset.conflict(MERGED, path))
        )
    return rows


def _stat_rows(s: Any) -> list[tuple[str, str, str]]:
    """(label, shown, exact) for one tensor's statistics."""
    share = f" ({s.zeros / s.numel:.2%})" if s.numel else ""
    rows = [
        ("min", _number(s.min), _exact(s.min)),
        ("max", _number(s.max), _exact(s.max)),
        ("mean", _number(s.mean), _exact(s.mean)),
        ("std", _number(s.std), _exact(s.std)),
        ("mean |x|", _number(s.abs_mean), _exact(s.abs_mean)),
        ("L2", _number(s.l2), _exact(s.l2)),
        ("zeros", f"{units.exact(s.zeros)}{share}", str(s.zeros)),
        ("NaN / Inf", f"{units.exact(s.nan)} / {units.exact(s.inf)}", ""),
    ]
    if s.percentiles:
        for p in (1.0, 50.0, 99.0):
            if p in s.percentiles:
                v = s.percentiles[p]
                rows.append((f"p{p:g}", _number(v), _exact(v)))
    return rows


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape) or "scalar"


# --- HTML -------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; --fg:#1d2430; --muted:#5f6b7a; --line:#dde2e8; --head:#f3f5f8;
  --accent:#2f6fdb; --alert:#b4261a; --ok:#1f7a3a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--fg); margin: 0; background: #fff; }
main { max-width: 1160px; margin: 0 auto; padding: 28px 32px 48px; }
h1 { font-size: 22px; margin: 0 0 2px; word-break: break-all; }
h2 { font-size: 16px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 0 0 6px; word-break: break-all; }
.sub { color: var(--muted); margin: 0 0 18px; word-break: break-all; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: var(--head); font-weight: 600; font-size: 13px; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv th { width: 180px; background: none; color: var(--muted); font-weight: 500; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 20px; }
.cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 24px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card table td, .card table th { padding: 2px 6px; font-size: 13px; }
.meta { color: var(--muted); font-size: 12px; margin-bottom: 8px; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: 12.5px; }
td.tree { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12.5px;
  overflow-wrap: anywhere; min-width: 160px; }
.wide { overflow-x: auto; }
.flag { color: var(--alert); font-weight: 600; }
.ok { color: var(--ok); font-weight: 600; }
.bar { display: inline-block; height: 9px; background: var(--accent); border-radius: 2px;
  vertical-align: middle; margin-right: 6px; }
td.kind { white-space: nowrap; }
.names { font-size: 12.5px; word-break: break-all; }
svg { display: block; margin: 6px 0 4px; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _html(r: Report) -> str:
    c = r.checkpoint
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # belt and braces: even a browser that met a reference would not load it
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{_e(c.name)} — ParamScope report</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(c.name)}</h1>",
        f'<p class="sub">{_e(c.path)}</p>',
        _html_summary(r),
        _html_tree(r),
        _html_health(r),
        _html_largest(r),
        _html_hparams(r),
        _html_notes(r),
        f"<footer>ParamScope {_e(__version__)} · {_e(r.created)} · read from the file's headers"
        " and values; nothing was changed.</footer>",
        "</main></body></html>",
        "",
    ]
    return "\n".join(p for p in parts if p)


def _html_table(header: tuple[str, ...], rows: list[tuple[str, ...]], numeric: set[int]) -> str:
    head = "".join(
        f'<th class="n">{_e(h)}</th>' if i in numeric else f"<th>{_e(h)}</th>"
        for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(cell)}</td>' if i in numeric else f"<td>{_e(cell)}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_summary(r: Report) -> str:
    c = r.checkpoint
    kv = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in _summary_rows(c))
    top = max((n for _, n, _ in _split_rows(c)), default=1) or 1

    def split_row(name: str, n: int, share: str) -> str:
        width = max(1, round(80 * n / top))
        return (
            f'<tr><td class="kind"><span class="bar" style="width:{width}px"></span>{_e(name)}</td>'
            f'<td class="n" title="{_e(units.exact(n))}">{_e(units.exact(n))}</td>'
            f'<td class="n">{_e(share)}</td></tr>'
        )

    split = "".join(split_row(*row) for row in _split_rows(c))
    dtypes = "".join(
        f'<tr><td class="mono">{_e(d)}</td><td class="n">{_e(units.exact(n))}</td>'
        f'<td class="n">{_e(s)}</td></tr>'
        for d, n, s in _dtype_rows(c)
    )
    memory = "".join(
        f'<tr><td>{_e(MEMORY_LABELS.get(k, k))}</td><td class="n">{_e(units.size(v))}</td>'
        f'<td class="n">{_e(units.exact(v))}</td></tr>'
        for k, v in c.memory.items()
    )
    return (
        "<h2>Summary</h2>"
        f'<table class="kv">{kv}</table>'
        '<div class="grid">'
        '<div><h3>Elements by kind</h3><table><thead><tr><th>kind</th><th class="n">elements'
        f'</th><th class="n">share</th></tr></thead><tbody>{split}</tbody></table></div>'
        '<div><h3>Parameters by dtype</h3><table><thead><tr><th>dtype</th><th class="n">'
        f'elements</th><th class="n">share</th></tr></thead><tbody>{dtypes}</tbody></table></div>'
        "<div><h3>Memory of the parameters</h3><table><thead><tr><th>precision</th>"
        f'<th class="n">size</th><th class="n">bytes</th></tr></thead><tbody>{memory}</tbody>'
        "</table>"
        '<p class="meta">Adam training: weights, gradients and two moments in fp32; '
        "activations not included.</p></div>"
        "</div>"
    )


def _html_tree(r: Report) -> str:
    header, rows = tree_rows(r.checkpoint, r.depth)
    numeric = set(range(2, len(header)))
    head = "".join(
        f'<th class="n">{_e(h)}</th>' if i in numeric else f"<th>{_e(h)}</th>"
        for i, h in enumerate(header)
    )
    body = []
    for row in rows:
        label = row[0].lstrip(" ")
        level = (len(row[0]) - len(label)) // 2
        cells = [f'<td class="tree" style="padding-left:{10 + 16 * level}px">{_e(label)}</td>']
        cells += [
            f'<td class="n">{_e(cell)}</td>' if i in numeric else f"<td>{_e(cell)}</td>"
            for i, cell in enumerate(row[1:], start=1)
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<h2>Modules (to depth {r.depth})</h2>"
        f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
        "</table></div>"
        '<p class="meta">Repeated blocks are shown once with ×N; counts are elements '
        "(parameters), “%” the share of all parameters.</p>"
    )


def _flag_lines(found: dict[str, list[str]]) -> list[tuple[str, int, str, list[str]]]:
    from core.stats import FLAGS

    return [
        (flag, len(names), FLAGS.get(flag, ""), names[:MAX_FLAGGED_NAMES])
        for flag, names in sorted(found.items(), key=lambda x: -len(x[1]))
    ]


def _plural(n: int, word: str) -> str:
    return f"{units.exact(n)} {word}{'' if n == 1 else 's'}"


def _checked(r: Report) -> str:
    """`12 tensors checked`, or `1 of 3 tensors checked` when some could not be read."""
    assert r.health is not None
    checked, total = len(r.health.results), len(r.checkpoint.tensors)
    if checked < total:
        return f"{units.exact(checked)} of {_plural(total, 'tensor')} checked"
    return f"{_plural(checked, 'tensor')} checked"


def _html_health(r: Report) -> str:
    h = r.health
    if h is None:
        return f'<h2>Health</h2><p class="muted">Health {_e(r.health_note)}.</p>'
    share = f" ({h.zeros / h.values:.2%})" if h.values else ""
    lines = [
        "<h2>Health</h2>",
        f"<p>{_e(_checked(r))}, every value read; "
        f"{_e(units.exact(h.zeros))} exact zeros{_e(share)} among "
        f"{_e(units.exact(h.values))} values of the model.</p>",
    ]
    if not h.flagged:
        lines.append('<p class="ok">✓ No NaN, Inf, dead, outlier or mostly-zero tensors.</p>')
    for title, found in (("Findings", h.flagged), ("State kept beside the model", h.elsewhere)):
        if not found:
            continue
        rows = []
        for flag, n, meaning, names in _flag_lines(found):
            more = f" … and {units.exact(n - len(names))} more" if n > len(names) else ""
            rows.append(
                f'<tr><td class="flag">⚑ {_e(flag)}</td><td class="n">{_e(units.exact(n))}</td>'
                f'<td>{_e(meaning)}<div class="names mono">{_e(", ".join(names))}{_e(more)}'
                "</div></td></tr>"
            )
        lines.append(
            f'<h3>{_e(title)}</h3><table><thead><tr><th>flag</th><th class="n">tensors</th>'
            f"<th>meaning and tensors</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    return "".join(lines)


def histogram_svg(edges: Any, counts: Any, width: int = 310, height: int = 86) -> str:
    """A histogram as a small inline SVG: bars from the counts, the range written below."""
    counts = [int(c) for c in counts]
    if not counts or max(counts) == 0:
        return '<p class="muted">no finite values to draw</p>'
    plot_h = height - 18
    top = max(counts)
    bar_w = width / len(counts)
    bars = []
    for i, n in enumerate(counts):
        if n == 0:
            continue
        h = max(1.0, plot_h * n / top)
        bars.append(f"M{i * bar_w:.2f} {plot_h}h{bar_w:.2f}v{-h:.2f}h{-bar_w:.2f}z")
    lo, hi = float(edges[0]), float(edges[-1])
    label = f"histogram of {len(counts)} bins from {_number(lo)} to {_number(hi)}"
    zero = ""
    if lo < 0 < hi:
        x = width * (0 - lo) / (hi - lo)
        zero = (
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{plot_h}" stroke="#9aa5b1" '
            'stroke-dasharray="2 2" stroke-width="1"/>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}">'
        f"<title>{_e(label)}</title>"
        f'<rect x="0" y="0" width="{width}" height="{plot_h}" fill="#f6f8fb"/>'
        f'<path d="{"".join(bars)}" fill="#2f6fdb"/>{zero}'
        f'<line x1="0" y1="{plot_h}" x2="{width}" y2="{plot_h}" stroke="#5f6b7a" '
        'stroke-width="1"/>'
        f'<text x="0" y="{height - 4}" font-size="11" fill="#5f6b7a">{_e(_number(lo))}</text>'
        f'<text x="{width}" y="{height - 4}" font-size="11" fill="#5f6b7a" '
        f'text-anchor="end">{_e(_number(hi))}</text>'
        "</svg>"
    )


def _html_largest(r: Report) -> str:
    if not r.largest and not r.unreadable:
        return ""
    cards = []
    for s in r.largest:
        t = r.checkpoint.tensor(s.name)
        role = f" · {t.role}" if t is not None else ""
        stats = "".join(
            f'<tr><th>{_e(label)}</th><td class="n" title="{_e(exact)}">{_e(shown)}</td></tr>'
            for label, shown, exact in _stat_rows(s)
        )
        flags = "".join(f'<div class="flag">⚑ {_e(m)}</div>' for m in s.flag_meanings())
        cards.append(
            '<div class="card">'
            f'<h3 class="mono">{_e(s.name)}</h3>'
            f'<div class="meta">{_e(s.dtype)} · {_e(_shape(s.shape))} · '
            f"{_e(units.exact(s.numel))} values{_e(role)}</div>"
            f"{histogram_svg(s.edges, s.counts)}"
            f'<table class="kv">{stats}</table>{flags}</div>'
        )
    unreadable = "".join(
        f'<p class="flag">⚠ <span class="mono">{_e(name)}</span>: not read — {_e(why)}</p>'
        for name, why in r.unreadable
    )
    return (
        f"<h2>Largest tensors ({len(r.largest)})</h2>"
        '<p class="meta">Exact statistics over every value; histograms over [min, max], '
        f"{HISTOGRAM_BINS} bins, linear counts. Hover a number for its exact value.</p>"
        f'<div class="cols">{"".join(cards)}</div>{unreadable}'
    )


def _html_hparams(r: Report) -> str:
    rows = _hparam_rows(r.checkpoint)
    if not rows:
        return '<h2>Hyperparameters</h2><p class="muted">None found inside or beside the file.</p>'
    body = []
    for key, value, source, conflict in rows[:MAX_HPARAM_ROWS]:
        differs = (
            '<div class="flag">⚠ differs: '
            + _e("; ".join(f"{s} = {_value_text(v, 40)}" for s, v in conflict.items()))
            + "</div>"
            if conflict
            else ""
        )
        body.append(
            f'<tr><td class="mono">{_e(key)}</td><td class="mono">{_e(_value_text(value))}'
            f'{differs}</td><td class="muted">{_e(source)}</td></tr>'
        )
    more = (
        f'<p class="meta">… and {len(rows) - MAX_HPARAM_ROWS} more keys.</p>'
        if len(rows) > MAX_HPARAM_ROWS
        else ""
    )
    sources = ", ".join(r.checkpoint.hyperparams)
    return (
        "<h2>Hyperparameters</h2>"
        f'<p class="meta">Merged from: {_e(sources)}.</p>'
        "<table><thead><tr><th>key</th><th>value</th><th>source</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>{more}"
    )


def _html_notes(r: Report) -> str:
    c = r.checkpoint
    items = [f"<li>{_e(w)}</li>" for w in c.warnings]
    meta = [
        f'<tr><td class="mono">{_e(k)}</td><td class="mono">{_e(_value_text(v))}</td></tr>'
        for k, v in list(c.metadata.items())[:40]
    ]
    out = ""
    if items:
        out += f"<h2>Warnings</h2><ul>{''.join(items)}</ul>"
    if meta:
        out += (
            "<h2>Metadata</h2><table><thead><tr><th>key</th><th>value</th></tr></thead>"
            f"<tbody>{''.join(meta)}</tbody></table>"
        )
    return out


# --- Markdown ---------------------------------------------------------------------------------

_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\u2028\u2029\x85]+")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


def _m(value: Any) -> str:
    """Text for a Markdown table cell: markup characters escaped, one line."""
    return _MD_SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(value)))


def sparkline(counts: Any, width: int = 48) -> str:
    counts = [int(c) for c in counts]
    if not counts or max(counts) == 0:
        return ""
    groups = max(1, -(-len(counts) // width))
    sums = [sum(counts[i : i + groups]) for i in range(0, len(counts), groups)]
    top = max(sums)
    return "".join(_SPARK[0 if s == 0 else max(1, round(8 * s / top))] for s in sums)


def _md_table(header: tuple[str, ...], rows: list[tuple[Any, ...]], numeric: set[int]) -> list[str]:
    rule = ["---:" if i in numeric else "---" for i in range(len(header))]
    return [
        "| " + " | ".join(_m(h) for h in header) + " |",
        "| " + " | ".join(rule) + " |",
        *("| " + " | ".join(_m(c) for c in row) + " |" for row in rows),
        "",
    ]


def _markdown(r: Report) -> str:
    c = r.checkpoint
    out = [f"# {_m(c.name)}", "", f"{_m(c.path)}", "", "## Summary", ""]
    out += _md_table(("", ""), _summary_rows(c), set())
    out += ["### Elements by kind", ""]
    out += _md_table(
        ("kind", "elements", "share"),
        [(k, units.exact(n), s) for k, n, s in _split_rows(c)],
        {1, 2},
    )
    out += ["### Parameters by dtype", ""]
    out += _md_table(
        ("dtype", "elements", "share"),
        [(d, units.exact(n), s) for d, n, s in _dtype_rows(c)],
        {1, 2},
    )
    out += ["### Memory of the parameters", ""]
    out += _md_table(
        ("precision", "size", "bytes"),
        [(MEMORY_LABELS.get(k, k), units.size(v), units.exact(v)) for k, v in c.memory.items()],
        {1, 2},
    )
    header, rows = tree_rows(c, r.depth)
    # Markdown collapses leading spaces: the depth shows as non-breaking ones
    rows = [(row[0].replace("  ", "\u00a0\u00a0"), *row[1:]) for row in rows]
    out += [f"## Modules (to depth {r.depth})", ""]
    out += _md_table(header, rows, set(range(2, len(header))))
    out += ["## Health", ""]
    h = r.health
    if h is None:
        out += [f"Health {_m(r.health_note)}.", ""]
    else:
        share = f" ({h.zeros / h.values:.2%})" if h.values else ""
        out += [
            f"{_checked(r)}, every value read; "
            f"{units.exact(h.zeros)} exact zeros{share} among {units.exact(h.values)} values.",
            "",
        ]
        if not h.flagged:
            out += ["✓ No NaN, Inf, dead, outlier or mostly-zero tensors.", ""]
        for title, found in (("Findings", h.flagged), ("State kept beside the model", h.elsewhere)):
            if not found:
                continue
            out += [f"### {title}", ""]
            flag_rows = []
            for flag, n, meaning, names in _flag_lines(found):
                more = f" … and {n - len(names)} more" if n > len(names) else ""
                flag_rows.append((f"⚑ {flag}", units.exact(n), meaning, ", ".join(names) + more))
            out += _md_table(("flag", "tensors", "meaning", "tensors flagged"), flag_rows, {1})
    if r.largest:
        out += [f"## Largest tensors ({len(r.largest)})", ""]
        out += [
            "Exact statistics over every value; the histogram (over [min, max]) is drawn as a "
            "text sparkline.",
            "",
        ]
        largest_rows = [
            (
                s.name,
                s.dtype,
                _shape(s.shape),
                _number(s.min),
                _number(s.max),
                _number(s.mean),
                _number(s.std),
                units.exact(s.zeros),
                ", ".join(s.flags) or "–",
                sparkline(s.counts),
            )
            for s in r.largest
        ]
        out += _md_table(
            (
                "tensor",
                "dtype",
                "shape",
                "min",
                "max",
                "mean",
                "std",
                "zeros",
                "flags",
                "histogram",
            ),
            largest_rows,
            {3, 4, 5, 6, 7},
        )
    for name, why in r.unreadable:
        out += [f"⚠ {_m(name)}: not read — {_m(why)}", ""]
    out += ["## Hyperparameters", ""]
    hrows = _hparam_rows(c)
    if not hrows:
        out += ["None found inside or beside the file.", ""]
    else:
        out += [f"Merged from: {_m(', '.join(c.hyperparams))}.", ""]
        out += _md_table(
            ("key", "value", "source"),
            [
                (
                    key,
                    _value_text(value)
                    + (
                        " ⚠ differs: "
                        + "; ".join(f"{s} = {_value_text(v, 40)}" for s, v in conflict.items())
                        if conflict
                        else ""
                    ),
                    source,
                )
                for key, value, source, conflict in hrows[:MAX_HPARAM_ROWS]
            ],
            set(),
        )
        if len(hrows) > MAX_HPARAM_ROWS:
            out += [f"… and {len(hrows) - MAX_HPARAM_ROWS} more keys.", ""]
    if c.warnings:
        out += ["## Warnings", "", *(f"- {_m(w)}" for w in c.warnings), ""]
    out += [f"_ParamScope {__version__} · {r.created}_", ""]
    return "\n".join(out)


# --- command line -----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a checkpoint file or model folder")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="OUT.html or OUT.md")
    parser.add_argument(
        "--depth",
        type=int,
        default=DEFAULT_DEPTH,
        help=f"module tree levels (default {DEFAULT_DEPTH})",
    )
    parser.add_argument(
        "--top",
        type=int,
        default=DEFAULT_TOP,
        help=f"largest tensors with statistics and histograms (default {DEFAULT_TOP})",
    )
    parser.add_argument(
        "--no-health", action="store_true", help="skip the health check (reads every value)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: one per core)"
    )


def run(args: argparse.Namespace) -> int:
    from core.hparams.export import own_files
    from core.open import open_checkpoint

    if args.depth < 1 or args.top < 0:
        print("paramscope: --depth must be at least 1 and --top at least 0", file=sys.stderr)
        return 2
    target = Path(args.output)
    format_for(target)  # refuse a wrong extension before reading anything
    checkpoint = open_checkpoint(args.path)
    progress = _progress_printer() if sys.stderr.isatty() else None
    report = build_report(
        checkpoint,
        args.depth,
        args.top,
        check_health=not args.no_health,
        progress=progress,
        workers=args.workers,
    )
    if progress is not None:
        sys.stderr.write("\r\033[K")
    written = write_report(report, target, protect=own_files(checkpoint))
    print(f"written {written}")
    return 0


def _progress_printer() -> ProgressFn:
    def show(done: int, total: int) -> None:
        if total:
            sys.stderr.write(f"\rreading values: {100 * done // total} %")
            sys.stderr.flush()

    return show
