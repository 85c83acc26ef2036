"""The executive summary: the run's key figures and the verdicts, as short sections.

Every number comes from :func:`evflex.judgement.facts.compute_facts`; the scorecard rows
give each verdict's deciding rule. :func:`summary_markdown` renders the tables of a run
as ``summary.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from evflex.judgement.evidence import PATHWAYS

COLUMNS = ("section", "text")
PATHWAY_NAMES = {"smart_charging": "Smart charging", "grid_managed": "Grid demand management",
                 "v2h_v2b": "V2H/V2B", "v2g": "V2G export"}


def summary(facts: Mapping[str, Any], scorecard: pd.DataFrame) -> pd.DataFrame:
    """Sections ``headline, verdicts, fleet, states, capacity, comparators, triggers,
    evidence`` with one text each."""
    f = facts
    verdicts = {p: f.get(f"verdict_{p}", "not judged") for p in PATHWAYS}
    lead = ("managed charging is the broad envelope"
            if verdicts["grid_managed"] in ("scaling", "progressing")
            else "managed charging is not yet an established grid resource")
    rows = [("headline",
             f"On this evidence and run, {lead}: {PATHWAY_NAMES['grid_managed']} is "
             f"{verdicts['grid_managed']}, {PATHWAY_NAMES['smart_charging']} "
             f"{verdicts['smart_charging']}, {PATHWAY_NAMES['v2h_v2b']} "
             f"{verdicts['v2h_v2b']} and {PATHWAY_NAMES['v2g']} {verdicts['v2g']}. In "
             f"{f['end_year']} the fleet sorts into V2G {f['share_v2g_end']:.0%}, V2H/V2B "
             f"{f['share_v2h_v2b_end']:.0%}, grid-managed {f['share_grid_managed_end']:.0%}, "
             f"smart-only {f['share_smart_only_end']:.0%} and outside "
             f"{f['share_outside_end']:.0%}.")]
    for rec in scorecard.to_dict("records"):
        rows.append(("verdicts", f"{PATHWAY_NAMES.get(rec['pathway'], rec['pathway'])}: "
                                 f"{rec['verdict']} ({rec['rule']})."))
    rows.append(("fleet",
                 f"Electric cars are {f['ev_stock_share_now']:.1%} of the stock in "
                 f"{f['now_year']} ({f['ev_stock_m_now']:,.0f} million), "
                 f"{f['ev_stock_share_mid']:.0%} in {f['mid_year']} "
                 f"({f['ev_stock_m_mid']:,.0f} million) and {f['ev_stock_share_end']:.0%} in "
                 f"{f['end_year']}."))
    rows.append(("states",
                 f"Counted once by highest active use: the managed envelope (V2G + V2H/V2B + "
                 f"grid-managed) is {f['share_envelope_now']:.1%} of the EV stock in "
                 f"{f['now_year']}, {f['share_envelope_mid']:.0%} in {f['mid_year']} and "
                 f"{f['share_envelope_end']:.0%} in {f['end_year']}; active V2G is "
                 f"{f['share_v2g_mid']:.1%} in {f['mid_year']}."))
    rows.append(("capacity",
                 f"In {f['mid_year']} the naive fleet battery of {f['naive_twh_mid']:,.0f} TWh "
                 f"becomes {f['shiftable_load_gw_mid']:,.0f} GW of shiftable charging load and "
                 f"{f['v2g_export_gw_mid']:,.0f} GW ({f['v2g_export_gwh_mid']:,.0f} GWh) of V2G "
                 f"export at the evening peak: {f['deliverable_fraction_mid']:.2%} of the naive "
                 f"energy is deliverable."))
    rows.append(("comparators",
                 f"Comparator stack {f['comparator_year_mid']} ({f['comparator_test_mid']} "
                 f"test, after value stacking, median over regions): the cheapest peak "
                 f"capacity is {f['cheapest_peak_mid']} ({f['cheapest_peak_cost_mid']:,.0f} "
                 f"USD/kW-year net); V2G nets {f['v2g_peak_cost_mid']:,.0f} and survives for "
                 f"{f['v2g_survives_services_mid']} "
                 f"({f['comparator_year_end']}: {f['v2g_survives_services_end']})."))
    rows.append(("triggers",
                 f"{f['fired_count']} of {f['trigger_count']} update triggers fired"
                 + (f": {f['fired_list']}." if f["fired_count"] else
                    f"; the closest is {f['closest_trigger']}.")))
    rows.append(("evidence",
                 f"The ledger holds {f['evidence_rows']} observations from "
                 f"{f['evidence_sources']} sources, the latest of {f['evidence_latest']}."))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def summary_markdown(tables: Mapping[str, pd.DataFrame], title: str = "Executive summary"
                     ) -> str:
    """``summary.md``: the summary sections, the scorecard and the implications."""
    lines = [f"# {title}", ""]
    summ = tables.get("summary")
    if summ is not None:
        for section, grp in summ.groupby("section", sort=False):
            lines += [f"## {str(section).capitalize()}", ""]
            lines += [f"- {t}" if len(grp) > 1 else str(t) for t in grp["text"]]
            lines.append("")
    impl = tables.get("implications")
    if impl is not None and len(impl):
        lines += ["## Decision implications", ""]
        for audience, grp in impl.groupby("audience", sort=False):
            lines += [f"**{str(audience).capitalize()}**", ""]
            lines += [f"- {t}" for t in grp["implication"]]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
