"""One colour per state, used by the PNG charts, the workbook and the report alike."""

from __future__ import annotations

#: State → hex colour (Okabe-Ito palette, readable by colour-blind readers).
STATE_COLOURS: dict[str, str] = {
    "v2g": "#0072B2",
    "v2h_v2b": "#56B4E9",
    "grid_managed": "#009E73",
    "smart_only": "#E69F00",
    "outside": "#BBBBBB",
}

STATE_LABELS: dict[str, str] = {
    "v2g": "V2G (active export)",
    "v2h_v2b": "V2H / V2B",
    "grid_managed": "Grid-managed charging",
    "smart_only": "Smart charging only",
    "outside": "Outside (no flexibility)",
}

FUNNEL_COLOUR = "#0072B2"
DELIVERABLE_COLOUR = "#D55E00"
