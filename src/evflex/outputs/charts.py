"""PNG charts of a run: the exclusive states over time and the energy funnel."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import FuncFormatter, PercentFormatter

from evflex.model import ALL_SEGMENTS, WORLD
from evflex.outputs.content import log_axis_note
from evflex.outputs.style import (
    DELIVERABLE_COLOUR,
    FUNNEL_COLOUR,
    STATE_COLOURS,
    STATE_LABELS,
)
from evflex.states import STATES


def _num(value: float) -> str:
    """A readable number: thousands separators, three significant digits below 100."""
    if not np.isfinite(value):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def states_chart(states: pd.DataFrame, path: Path, title: str = "") -> None:
    """Stacked area of the exclusive states, World, all segments: shares and counts."""
    world = states[(states["region"] == WORLD) & (states["segment"] == ALL_SEGMENTS)]
    shares = world.pivot(index="year", columns="state", values="share")[list(STATES)]
    counts = world.pivot(index="year", columns="state", values="vehicles")[list(STATES)] / 1e6
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    colours = [STATE_COLOURS[s] for s in STATES]
    labels = [STATE_LABELS[s] for s in STATES]
    ax1.stackplot(shares.index, shares.T.values, colors=colours, labels=labels)
    ax1.set_ylim(0, 1)
    ax1.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax1.set_ylabel("share of the EV stock")
    ax1.set_title("Exclusive states, share of EV stock (World)")
    ax2.stackplot(counts.index, counts.T.values, colors=colours, labels=labels)
    ax2.set_ylabel("EVs in stock [million vehicles]")
    ax2.set_title("Exclusive states, vehicles (World)")
    for ax in (ax1, ax2):
        ax.set_xlim(shares.index.min(), shares.index.max())
        ax.grid(alpha=0.3)
        ax.set_xlabel("year")
    handles, labs = ax1.get_legend_handles_labels()
    fig.legend(handles[::-1], labs[::-1], loc="outside right center", frameon=False)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def funnel_chart(funnel: pd.DataFrame, path: Path, title: str = "") -> None:
    """Energy funnel (log scale): naive battery → deliverable energy and power at the peak."""
    df = funnel.iloc[::-1].reset_index(drop=True)
    energy = df["energy_gwh"].clip(lower=1e-6)
    fig, ax = plt.subplots(figsize=(10, 5.2), constrained_layout=True)
    colours = [DELIVERABLE_COLOUR if s == "deliverable" else FUNNEL_COLOUR for s in df["stage"]]
    ax.barh(df["label"], energy, color=colours)
    ax.set_xscale("log")
    ax.set_xlabel("battery energy [GWh], log scale")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _num(v)))
    top = float(energy.max())
    ax.set_xlim(max(float(energy.min()) / 3, top * 1e-7), top * 12)
    for i, row in enumerate(df.to_dict("records")):
        text = f"{_num(row['energy_gwh'])} GWh · {_num(row['vehicles'] / 1e6)} M EVs"
        if row["stage"] == "deliverable" and np.isfinite(row["power_gw"]):
            text = f"{_num(row['energy_gwh'])} GWh · {_num(row['power_gw'])} GW at the peak"
        ax.text(float(energy.iloc[i]) * 1.15, float(i), text, va="center", fontsize=8.5)
    year, region = int(funnel["year"].iloc[0]), funnel["region"].iloc[0]
    ax.set_title(title or "From the naive battery to what the peak can count on "
                 f"({region}, {year})")
    ax.grid(axis="x", alpha=0.3, which="both")
    fig.text(0.01, 0.005, log_axis_note(funnel), fontsize=8.5, style="italic",
             color="#444444", ha="left", va="bottom", wrap=True)
    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):
        engine.set(rect=(0, 0.05, 1, 0.95))  # room for the note
    fig.savefig(path, dpi=120)
    plt.close(fig)
