"""The judgement layer: evidence ledger, update triggers, scorecard, comparator stack,
decision implications and executive summary, computed from the evidence and the run."""
