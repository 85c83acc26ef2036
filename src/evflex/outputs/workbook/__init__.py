"""The run as a live Excel workbook, ``workbook.xlsx`` (written with XlsxWriter).

One module per sheet group: :mod:`.cells` (styles, tables, page setup), :mod:`.filters`,
:mod:`.states`, :mod:`.capacity`, :mod:`.judgement` (checks and the judgement sheets),
:mod:`.static` (fleet, hourly, assumptions, sources), :mod:`.summary`, :mod:`.groups`
(the live rows of a country run: countries asked for, the rest grouped by their blocks)
and the :mod:`.writer` that puts them in order.

>>> from evflex.model import run
>>> from evflex.outputs.workbook import write_workbook
>>> write_workbook("workbook.xlsx", run("base"), {})              # doctest: +SKIP

Sheets, in order: Executive Summary, Assumptions, Fleet, Filters & Funnel, States,
Capacity, Hourly (when the run simulated vehicles), Denominator Checks, Comparator Stack,
Update Triggers, Scorecard, Decision Implications, Evidence and Sources. A judgement
sheet whose table is not in ``tables`` (the judgement layer did not run) says so in one
line instead of holding data.

The live part
-------------
``Filters & Funnel`` holds one row per region (or group of countries, see
:mod:`.groups`), segment and year with the inputs of the allocation, styled as inputs:
EV stock, V2G-capable stock and smart-capable stock [vehicles]; the six conditional
filters and the three state uses [fraction]. The V2G funnel next to them is a row of
formulas, the algebra of
:func:`evflex.filters.v2g_funnel`. ``States`` holds the exclusive states as formulas over
those cells, the algebra of :func:`evflex.states.allocate_states`, their shares, their
sum, and the World by year as sums over the rows. The Executive Summary's state shares
point at that World block. Every formula carries the engine's value as its cached result,
so a reader sees the engine's numbers before any recalculation, and a changed filter
moves the states, which still add up to the EV stock.

Cell styles: inputs are blue on pale yellow; live formulas are black on white; values the
engine computed and wrote as numbers are black on pale grey.

The defined names ``filter_table``, ``states_table``, ``world_states`` and
``world_funnel`` cover those blocks (header row included), for readers' formulas and
for tests.
"""


from evflex.outputs.content import complete_tables, write_atomically
from evflex.outputs.workbook.writer import write_workbook

__all__ = ["complete_tables", "write_atomically", "write_workbook"]

