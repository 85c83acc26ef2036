"""The waterfall chart of a diff: from A's value to B's, one bar per changed assumption."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.patches

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evflex.outputs.style import STATE_COLOURS

#: Outputs drawn by default, one panel each.
DEFAULT_PANELS = ("state_share.v2g", "state_share.grid_managed", "capacity.v2g_export_power",
                  "capacity.shiftable_load")
#: Bars per panel before the smallest contributions are lumped together.
MAX_BARS = 8
#: Increase and decrease (Paul Tol's muted green and wine: colour-blind safe as a pair and
#: distinct from the state colours, which the end bars of a state share take).
INCREASE = "#117733"
DECREASE = "#882255"
ENDPOINT = "#555555"


def _scale(unit: str) -> tuple[float, str]:
    """Factor and unit label for display."""
    if unit.startswith("fraction"):
        return 100.0, "% of EV stock"
    if unit == "vehicles":
        return 1e-6, "million vehicles"
    return 1.0, unit


def _num(value: float, signed: bool = False) -> str:
    """Thousands separators from 100 up, three significant digits below."""
    if value == 0:
        return "0"
    sign = "+" if signed and value > 0 else ""
    return f"{value:{sign},.0f}" if abs(value) >= 100 else f"{value:{sign}.3g}"


def _bars(rows: pd.DataFrame) -> list[tuple[str, float]]:
    """(label, attribution) in order of size, the smallest lumped into one bar."""
    rows = rows.reindex(rows["attribution"].abs().sort_values(ascending=False).index)
    bars = [(str(r["group"]), float(r["attribution"])) for r in rows.to_dict("records")]
    if len(bars) > MAX_BARS:
        rest = bars[MAX_BARS - 1:]
        bars = [*bars[: MAX_BARS - 1], (f"{len(rest)} others", sum(v for _, v in rest))]
    return bars


def _panel(ax: plt.Axes, rows: pd.DataFrame, label_a: str, label_b: str) -> None:
    first = rows.iloc[0]
    factor, unit = _scale(str(first["unit"]))
    a, b = float(first["value_a"]) * factor, float(first["value_b"]) * factor
    bars = [(g, v * factor) for g, v in _bars(rows)]
    output = str(first["output"])
    end_colour = (STATE_COLOURS.get(output.split(".", 1)[1], ENDPOINT)
                  if output.startswith("state_share.") else ENDPOINT)
    labels = [label_a, *[g for g, _ in bars], label_b]
    y = np.arange(len(labels))[::-1]
    spans = [(0.0, a)]  # (start, end) of each bar
    level = a
    for _, v in bars:
        spans.append((level, level + v))
        level += v
    spans.append((0.0, b))
    colours = [end_colour, *[INCREASE if v >= 0 else DECREASE for _, v in bars], end_colour]
    for k, ((start, end), colour) in enumerate(zip(spans, colours, strict=True)):
        ax.barh(y[k], end - start, left=start, color=colour, height=0.6)
        if 0 < k:
            joint = spans[k - 1][1]
            ax.plot([joint, joint], [y[k - 1] - 0.3, y[k] + 0.3], color="#999999", lw=0.8)
    edges = [x for sp in spans for x in sp]
    lo, hi = min(0.0, *edges), max(0.0, *edges)
    moves = [x for sp in spans[1:-1] for x in sp]
    zoom = bool(moves) and (max(moves) - min(moves)) < 0.2 * max(abs(a), abs(b), 1e-300)
    if zoom:  # small changes of a large value: show the steps, not the bar from 0
        pad = max(max(moves) - min(moves), 1e-12 * max(abs(a), abs(b)))
        lo, hi = min(moves) - 0.6 * pad, max(moves) + 0.6 * pad
    span = max(hi - lo, 1e-300)
    for k, (start, end) in enumerate(spans):
        inner = 0 < k < len(spans) - 1
        text = _num(end - start, signed=True) if inner else _num(end)
        ax.text(min(max(start, end), hi) + span * 0.02, y[k], text, va="center", fontsize=8)
    ax.set_yticks(y, labels, fontsize=8.5)
    ax.set_xlim(lo - span * 0.02, hi + span * 0.22)
    ax.axvline(0, color="black", lw=0.6)
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel(f"[{unit}]" + (", axis zoomed (not from 0)" if zoom else ""))
    ax.set_title(f"{first['label']}, {int(first['year'])}", fontsize=10)


def waterfall_chart(attribution: pd.DataFrame, path: Path, year: int, label_a: str,
                    label_b: str, outputs: tuple[str, ...] = DEFAULT_PANELS,
                    title: str = "") -> None:
    """One waterfall panel per output: A's value, each assumption's Shapley share, B's.

    ``attribution`` is the table of :func:`evflex.store.diff.diff` (``diff.csv``).
    Increases are green, decreases orange; the end bars of a state share take its colour.
    """
    panels = [o for o in outputs if ((attribution["output"] == o)
                                     & (attribution["year"] == year)).any()]
    if not panels:
        raise ValueError(f"--chart-year: no attribution in that year (got {year}, expected "
                         f"one of {sorted(attribution['year'].unique())})")
    cols = 2 if len(panels) > 1 else 1
    nrows = (len(panels) + cols - 1) // cols
    n_bars = min(MAX_BARS, attribution["group"].nunique()) + 2
    fig, axes = plt.subplots(nrows, cols, figsize=(6.4 * cols, (0.42 * n_bars + 1.3) * nrows),
                             constrained_layout=True, squeeze=False)
    for ax, output in zip(axes.flat, panels, strict=False):
        rows = attribution[(attribution["output"] == output) & (attribution["year"] == year)]
        _panel(ax, rows, label_a, label_b)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles = [matplotlib.patches.Patch(color=INCREASE, label="raises the output"),
               matplotlib.patches.Patch(color=DECREASE, label="lowers the output")]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False, fontsize=9)
    fig.suptitle(title or f"What moved the outputs from A to B ({year}): Shapley attribution",
                 fontsize=11)
    fig.savefig(path, dpi=120)
    plt.close(fig)
