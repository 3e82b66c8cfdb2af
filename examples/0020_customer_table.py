"""A ready-made customer table: the IBM Telco churn sample, with churn as the outcome.

Uses ``../shared/data/telco-customer-churn`` when it is there (IBM sample data, see its
SOURCE.md), else a small synthetic table, so the example always runs.
Run with ``uv run python examples/0020_customer_table.py``. The test suite sets
``SEGDISCOVER_EXAMPLE_ROWS`` to run it on the table's first rows only (unset: all).
"""

# %%
import os
from pathlib import Path

import numpy as np
import polars as pl

import segdiscover as sd

path = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "telco-customer-churn"
    / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
)
if path.exists():
    # TotalCharges is text with 11 blanks: segdiscover reads it as a number with nulls.
    table = pl.read_csv(path)
    id_col, outcome = "customerID", "Churn"
else:
    rng = np.random.default_rng(0)
    n = 2_000
    g = rng.integers(0, 3, n)
    table = pl.DataFrame(
        {
            "customerID": [f"c{i}" for i in range(n)],
            "MonthlyCharges": np.where(g == 0, 90.0, 30.0) + rng.normal(0, 5, n),
            "tenure": np.where(g == 1, 60, 6) + rng.integers(0, 6, n),
            "Contract": np.where(g == 1, "Two year", "Month-to-month"),
            "Churn": np.where(rng.random(n) < np.where(g == 0, 0.4, 0.1), "Yes", "No"),
        }
    )
    id_col, outcome = "customerID", "Churn"
if rows := os.environ.get("SEGDISCOVER_EXAMPLE_ROWS"):
    table = table.head(int(rows))

# %%
seg = sd.Segmenter(id=id_col, random_state=0).fit(table, outcomes=[outcome])
print(seg.run_["selection"])
print(seg.segments_.select("segment_id", "name", "size", "share"))
print(seg.outcomes_)
