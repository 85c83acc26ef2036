"""The executive summary: the run's key figures and the verdicts, as short sections.

Every number comes from :func:`evflex.judgement.facts.compute_facts`; the scorecard rows
give each verdict's deciding rule. :func:`summary_markdown` renders the tables of a run
as ``summary.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from evflex.judgement.evidence import PATHWAYS

COLUMNS = ("section", "text")
PATHWAY_NAMES = {"smart_charging": "Smart charging", "grid_managed": "Grid demand management",
                 "v2h_v2b": "V2H/V2B", "v2g": "V2G export"}


def _name(pathway: str, start: bool = False) -> str:
    """A pathway's name as a person writes it, capitalised only to start a sentence."""
    name = PATHWAY_NAMES.get(pathway, pathway.replace("_", " "))
    if start or name.startswith(("V2", "V2H")):
        return name
    return name[0].lower() + name[1:]


def rule_text(rule: str) -> str:
    """``scaling: growth >= 0.15 and markets >= 2`` as ``growth ≥ 0.15, markets ≥ 2``."""
    body = str(rule).split(": ", 1)[1] if ": " in str(rule) else str(rule)
    if body.startswith("default"):
        return "no earlier verdict's conditions hold"
    return body.replace(">=", "≥").replace("<=", "≤").replace(" and ", ", ")


def _listing(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _comparators(f: Mapping[str, Any]) -> str:
    year, end = f["comparator_year_mid"], f["comparator_year_end"]
    if year == "none":
        return "The comparator stack has no options for this run's years."
    parts = []
    test = f.get("comparator_test_mid", "none")
    how = (f" ({test} test, after value stacking, median over regions)" if test != "none"
           else "")
    cheapest = f["cheapest_peak_mid"]
    if cheapest != "none":
        parts.append(f"In {year}{how} the cheapest peak capacity is "
                     f"{'V2G itself' if cheapest == 'V2G' else cheapest} at "
                     f"{f['cheapest_peak_cost_mid']:,.0f} USD per kW-year net")
    v2g_cost = f.get("v2g_peak_cost_mid", math.nan)
    if not math.isnan(v2g_cost) and cheapest != "V2G":
        parts.append(f"V2G nets {v2g_cost:,.0f}")
    first = "; ".join(parts) + "." if parts else ""

    def services(text: str) -> str:  # "a, b, c" -> "a, b and c"
        head, _, tail = text.rpartition(", ")
        return f"{head} and {tail}" if head else text

    mid = services(f["v2g_survives_services_mid"]) if f["v2g_survives_any_mid"] else ""
    last = services(f["v2g_survives_services_end"]) if f.get("v2g_survives_any_end") else ""
    if mid and last:
        second = (f"V2G beats the next-best option for {mid} in {year}"
                  + (f" and for {last} in {end}." if last != mid else f" and in {end}."))
    elif mid:
        second = f"V2G beats the next-best option for {mid} in {year}, but not in {end}."
    elif last:
        second = (f"V2G beats the next-best option for no grid service in {year}, and for "
                  f"{last} in {end}.")
    else:
        second = (f"V2G does not beat the next-best option for any grid service, in {year} "
                  f"or in {end}.")
    return f"{first} {second}".strip()


def _triggers(f: Mapping[str, Any]) -> str:
    n, total = int(f["fired_count"]), int(f["trigger_count"])
    if total == 0:
        return "No update triggers are defined."
    if n == 0:
        closest = f["closest_trigger"]
        return (f"None of the {total} update triggers has fired"
                + (f"; the closest to its threshold is {closest}." if closest != "none"
                   else "; none has an observation yet."))
    return (f"{n} of {total} update triggers {'has' if n == 1 else 'have'} fired: "
            f"{f['fired_list']}.")


def summary(facts: Mapping[str, Any], scorecard: pd.DataFrame) -> pd.DataFrame:
    """Sections ``headline, verdicts, fleet, states, capacity, comparators, triggers,
    evidence`` with one text each."""
    f = facts
    verdicts = {p: f.get(f"verdict_{p}", "not judged") for p in PATHWAYS}
    lead = ("managed charging is the broad envelope"
            if verdicts["grid_managed"] in ("scaling", "progressing")
            else "managed charging is not yet an established grid resource")
    others = [f"{_name(p)} {verdicts[p]}" for p in ("smart_charging", "v2h_v2b", "v2g")]
    rows = [("headline",
             f"On this evidence and run, {lead}: {_name('grid_managed')} is "
             f"{verdicts['grid_managed']}, {_listing(others)}. In {f['end_year']} the fleet "
             f"sorts into V2G {f['share_v2g_end']:.0%}, V2H/V2B {f['share_v2h_v2b_end']:.0%}, "
             f"grid-managed {f['share_grid_managed_end']:.0%}, smart-only "
             f"{f['share_smart_only_end']:.0%} and outside {f['share_outside_end']:.0%}.")]
    for rec in scorecard.to_dict("records"):
        rows.append(("verdicts", f"{_name(str(rec['pathway']), start=True)} is "
                                 f"{rec['verdict']}: {rule_text(rec['rule'])}."))
    rows.append(("fleet",
                 f"Electric cars are {f['ev_stock_share_now']:.1%} of the stock in "
                 f"{f['now_year']} ({f['ev_stock_m_now']:,.0f} million), "
                 f"{f['ev_stock_share_mid']:.0%} in {f['mid_year']} "
                 f"({f['ev_stock_m_mid']:,.0f} million) and {f['ev_stock_share_end']:.0%} in "
                 f"{f['end_year']}."))
    rows.append(("states",
                 f"Counted once by highest active use, the managed envelope (V2G, V2H/V2B and "
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
    rows.append(("comparators", _comparators(f)))
    rows.append(("triggers", _triggers(f)))
    rows.append(("evidence",
                 f"The ledger holds {f['evidence_rows']} observations from "
                 f"{f['evidence_sources']} sources, the latest dated {f['evidence_latest']}."))
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
