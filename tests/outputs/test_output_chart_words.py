"""Charts say what they show: one colour per comparator option, currency and year on the
cost axis, a warning on the log-scaled funnel, share ticks on whole percentages."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from evflex.energy_funnel import energy_funnel
from evflex.judgement import judge
from evflex.model import Results
from evflex.outputs.content import log_axis_note
from evflex.outputs.report import comparators_figure, funnel_figure, option_colours
from evflex.uncertainty.charts import _percent_axis


def test_every_comparator_option_has_its_own_colour(base_results: Results) -> None:
    comparators = judge(base_results)["comparators"]
    fig = comparators_figure(comparators)
    assert fig is not None
    by_option: dict[str, set[str]] = {}
    for trace in fig["data"]:
        by_option.setdefault(trace["name"], set()).add(trace["marker"]["color"])
    assert all(len(c) == 1 for c in by_option.values()), "one colour per option, every year"
    colours = [next(iter(c)) for c in by_option.values()]
    assert len(set(colours)) == len(colours) == comparators["option"].nunique()
    # more options than any palette: still distinct
    many = option_colours([f"option {i}" for i in range(12)] + ["V2G", "managed charging"])
    assert len(set(many.values())) == len(many)


def test_the_cost_axis_names_currency_and_year(base_results: Results) -> None:
    comparators = judge(base_results)["comparators"]
    fig = comparators_figure(comparators)
    assert fig is not None
    last = int(comparators["year"].max())
    title = fig["layout"]["yaxis"]["title"]["text"]
    assert "USD" in title and str(last) in title and "kW-year" in title
    for button in fig["layout"]["updatemenus"][0]["buttons"]:
        assert button["label"] in button["args"][1]["yaxis.title.text"]


def test_the_log_funnel_says_lengths_are_not_proportional(base_results: Results) -> None:
    funnel = energy_funnel(base_results.data, 2050)
    note = log_axis_note(funnel)
    assert "not proportional" in note
    ratio = funnel["energy_gwh"].iloc[-1] / funnel["energy_gwh"].iloc[0]
    assert f"{ratio:.2%}" in note
    fig = funnel_figure(funnel)
    assert fig["layout"]["xaxis"]["type"] == "log"
    assert any("not proportional" in a["text"] for a in fig["layout"]["annotations"])


@pytest.mark.parametrize("top", [0.13, 0.31, 0.62, 0.035])
def test_share_ticks_fall_on_round_percentages(top: float) -> None:
    fig, ax = plt.subplots()
    ax.plot(np.linspace(2010, 2100, 10), np.linspace(0, top, 10))
    _percent_axis(ax)
    fig.canvas.draw()
    ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    plt.close(fig)
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0])
    step_pct = round(100 * float(steps[0]), 6)
    assert step_pct in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20), step_pct
    assert len(set(labels)) == len(labels), labels  # no two ticks read the same
    assert len(pd.unique(pd.Series(labels))) >= 3
