"""Quickstart: raw tables with planted segments -> explained segments.

Run with ``uv run python examples/0010_quickstart.py``.
"""

# %%
import segdiscover as sd

data = sd.datasets.make_customers(n_customers=5_000, seed=0)
print({name: t.shape for name, t in data.tables.items()})

# %% Fit: features as of the cutoff, clustering, surrogate + SHAP explanation.
seg = sd.Segmenter(clusterer="kmeans", n_segments=6, random_state=0)
seg.fit(data.tables, as_of=data.as_of, outcomes=data.outcomes)
print(f"fidelity {seg.fidelity_:.3f}")
print(seg.segments_.select("segment_id", "name", "size", "share", "top_drivers"))

# %% One profile card (renders as HTML in Jupyter).
print(seg.profile(0))

# %% How well were the planted segments recovered?
from sklearn.metrics import adjusted_rand_score

joined = seg.labels_.join(data.truth, on="customer_id")
print(
    "ARI vs planted truth:",
    round(adjusted_rand_score(joined["segment"], joined["segment_id"]), 3),
)
