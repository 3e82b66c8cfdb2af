"""Segments guided by outcomes, validated on customers held out from building them.

A telecom-like table from the independent generator (`make_segments_table`) with
churn, margin and support cost. `guide="auto"` (the default) builds behavioural
segments and segments clustered on each customer's cross-fitted contributions to the
outcomes, compares them on 30% held-out customers and keeps the one whose segments
differ on more outcomes. Run with ``uv run python examples/0040_guided_by_outcomes.py``.
The test suite sets ``SEGDISCOVER_EXAMPLE_ROWS`` to run it on fewer customers.
"""

# %%
import os
import warnings

import polars as pl

import segdiscover as sd

n = min(2_000, int(os.environ.get("SEGDISCOVER_EXAMPLE_ROWS", 2_000)))
data = sd.datasets.make_segments_table(n_customers=n, n_segments=4, seed=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", sd.exceptions.SegdiscoverWarning)
    seg = sd.Segmenter(id="customer_id", random_state=0, stability_refits=3).fit(
        data.table, outcomes=data.outcomes
    )

# %% Which candidate won, and on which customers the verdicts were measured
for c in seg.run_["guide"]["comparison"]:
    print(
        f"{c['space']:>8}: {c['n_segments']} segments, "
        f"{c['distinct_segments']} operationally distinct on the hold-out"
        + (" <- chosen" if c["chosen"] else "")
    )
print(seg.outcome_comparison_.summary())

# %% The segments, named from behaviour, with their churn on the validation customers
churn = seg.outcomes_.filter(pl.col("outcome") == "churned").select(
    "segment_id", pl.col("value").alias("churn")
)
print(seg.segments_.select("segment_id", "name", "size").join(churn, on="segment_id"))
