"""Figures of the uncertainty analyses: fan charts, a tornado chart, verdict odds."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator, PercentFormatter

from evflex.capacity import METRICS
from evflex.model import WORLD
from evflex.outputs.style import STATE_COLOURS, STATE_LABELS
from evflex.paths import FloatArray
from evflex.states import STATES

#: Capacity metrics shown in the capacity fan chart.
FAN_METRICS = ("shiftable_load", "v2g_export_power", "shiftable_energy", "v2g_export_energy")
BASE_COLOUR = "#222222"


def _fan(ax: Axes, rows: pd.DataFrame, colour: str, base: FloatArray | None,
         scale: float = 1.0) -> None:
    """Bands p05-p95 and p25-p75, the median, and the base run as a dashed line."""
    years = rows["year"].to_numpy()
    ax.fill_between(years, rows["p05"] * scale, rows["p95"] * scale, color=colour, alpha=0.2,
                    linewidth=0, label="5-95 %")
    ax.fill_between(years, rows["p25"] * scale, rows["p75"] * scale, color=colour, alpha=0.45,
                    linewidth=0, label="25-75 %")
    ax.plot(years, rows["p50"] * scale, color=colour, linewidth=1.8, label="median")
    if base is not None:
        ax.plot(years, base * scale, color=BASE_COLOUR, linewidth=1.0, linestyle="--",
                label="base run")
    ax.set_xlim(years.min(), years.max())
    ax.grid(alpha=0.3)


#: Tick steps of a share axis, in percentage points times a power of ten: ticks land on
#: whole percentages (0, 2, 4 ... or 0, 5, 10 ...), never on 2.5 shown rounded as 2 or 3.
PERCENT_STEPS = (1, 2, 5, 10)


def _percent_axis(ax: Axes) -> None:
    """A share axis [fraction] labelled in whole percentages at round steps."""
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=list(PERCENT_STEPS)))
    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0 if hi - lo >= 0.05 else 1))


def states_fan_chart(quantiles: pd.DataFrame, base: FloatArray, regions: list[str],
                     path: Path, title: str = "") -> None:
    """One panel per state: World share of the EV stock, bands over the draws.

    ``base`` is the base run's share, shape (region, state, year).
    """
    world = quantiles[quantiles["region"] == WORLD]
    r = regions.index(WORLD)
    fig, axes = plt.subplots(1, len(STATES), figsize=(17, 4.0), constrained_layout=True,
                             sharey=False)
    for k, (ax, state) in enumerate(zip(axes, STATES, strict=True)):
        _fan(ax, world[world["state"] == state].sort_values("year"), STATE_COLOURS[state],
             base[r, k])
        ax.set_title(STATE_LABELS[state], fontsize=10)
        _percent_axis(ax)
        ax.set_xlabel("year")
    axes[0].set_ylabel("share of the World EV stock")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle(title or "Exclusive states: range over the draws (World)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def v2g_regions_fan_chart(quantiles: pd.DataFrame, base: FloatArray, regions: list[str],
                          path: Path, title: str = "") -> None:
    """V2G share of the EV stock by region (and World), bands over the draws."""
    fig, axes = plt.subplots(1, len(regions), figsize=(3.4 * len(regions), 3.8),
                             constrained_layout=True, sharey=True)
    k = STATES.index("v2g")
    for ax, region in zip(np.atleast_1d(axes), regions, strict=True):
        rows = quantiles[(quantiles["region"] == region) & (quantiles["state"] == "v2g")]
        _fan(ax, rows.sort_values("year"), STATE_COLOURS["v2g"], base[regions.index(region), k])
        ax.set_title(region, fontsize=10)
        _percent_axis(ax)
        ax.set_xlabel("year")
    np.atleast_1d(axes)[0].set_ylabel("V2G share of the EV stock")
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle(title or "Active V2G by region: range over the draws")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def capacity_fan_chart(quantiles: pd.DataFrame, base: FloatArray, regions: list[str],
                       path: Path, title: str = "") -> None:
    """World capacity metrics of :data:`FAN_METRICS`, bands over the draws.

    ``base`` is the base run's capacity, shape (region, metric, year).
    """
    world = quantiles[quantiles["region"] == WORLD]
    r = regions.index(WORLD)
    colours = {"shiftable_load": STATE_COLOURS["grid_managed"],
               "shiftable_energy": STATE_COLOURS["grid_managed"],
               "v2g_export_power": STATE_COLOURS["v2g"],
               "v2g_export_energy": STATE_COLOURS["v2g"]}
    titles = {"shiftable_load": "Managed charging: load shifted off the peak",
              "v2g_export_power": "V2G export at the peak",
              "shiftable_energy": "Managed charging: energy shifted per day",
              "v2g_export_energy": "V2G energy over the peak"}
    fig, axes = plt.subplots(1, len(FAN_METRICS), figsize=(17, 4.0), constrained_layout=True)
    metrics = list(METRICS)
    for ax, metric in zip(axes, FAN_METRICS, strict=True):
        rows = world[world["metric"] == metric].sort_values("year")
        _fan(ax, rows, colours[metric], base[r, metrics.index(metric)])
        ax.set_title(titles[metric], fontsize=10)
        ax.set_ylabel(f"{metric} [{METRICS[metric]}]")
        ax.set_xlabel("year")
        ax.set_ylim(bottom=0)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle(title or "Grid capacity: range over the draws (World)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


VERDICT_COLOURS = {"scaling": "#009E73", "progressing": "#56B4E9", "niche-valid": "#E69F00",
                   "stalled": "#D55E00", "activity-only": "#999999"}


def verdict_chart(probabilities: pd.DataFrame, path: Path, title: str = "") -> None:
    """Stacked bars: probability of each verdict per pathway."""
    table = probabilities.pivot_table(index="pathway", columns="verdict", values="probability",
                                      aggfunc="sum", fill_value=0.0, sort=False)
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(table) + 1.8), constrained_layout=True)
    left = np.zeros(len(table))
    for verdict in table.columns:
        values = table[verdict].to_numpy()
        ax.barh(table.index, values, left=left, label=verdict,
                color=VERDICT_COLOURS.get(str(verdict), "#666666"))
        for i, v in enumerate(values):
            if v >= 0.06:
                ax.text(left[i] + v / 2, i, f"{v:.0%}", ha="center", va="center", fontsize=8)
        left += values
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("probability over the draws")
    ax.invert_yaxis()
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=5, frameon=False)
    ax.set_title(title or "Scorecard verdicts: probability over the draws")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def tornado_chart(sobol: pd.DataFrame, path: Path, top: int = 12, title: str = "") -> None:
    """Sobol total (bar) and first-order (inner bar) indices per input, one panel per output.

    ``sobol`` has columns output, input, S1, S1_conf, ST, ST_conf; each panel shows the
    ``top`` inputs by ST, largest on top.
    """
    outputs = list(dict.fromkeys(sobol["output"]))
    ncols = min(3, len(outputs))
    nrows = -(-len(outputs) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, 0.32 * top * nrows + 1.6 * nrows),
                             constrained_layout=True, squeeze=False)
    for ax, output in zip(axes.flat, outputs, strict=False):
        rows = sobol[sobol["output"] == output].sort_values("ST", ascending=False).head(top)
        rows = rows.iloc[::-1]
        y = np.arange(len(rows))
        ax.barh(y, rows["ST"].clip(lower=0), color="#0072B2", alpha=0.45, label="total (ST)",
                xerr=rows["ST_conf"], error_kw={"elinewidth": 0.7, "alpha": 0.6})
        ax.barh(y, rows["S1"].clip(lower=0), height=0.45, color="#0072B2",
                label="first order (S1)")
        ax.set_yticks(y, rows["input"], fontsize=8)
        ax.set_xlim(0, max(1e-3, float(rows["ST"].max()) * 1.15))
        ax.set_title(output, fontsize=9.5)
        ax.set_xlabel("Sobol index [share of output variance]")
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(outputs):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
    fig.suptitle(title or "What drives the range: Sobol indices (tornado)")
    fig.savefig(path, dpi=110)
    plt.close(fig)
