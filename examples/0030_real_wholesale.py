"""A real table bundled with the package: 440 wholesale clients (UCI, CC BY 4.0).

Segments are found from the six spend columns alone; the clients' channel (hotel,
restaurant and café vs retail), which the segmentation never sees, checks them.
Run with ``uv run python examples/0030_real_wholesale.py``.
"""

# %%
from sklearn.metrics import adjusted_rand_score

import segdiscover as sd

table = sd.datasets.load_wholesale()
seg = sd.Segmenter(random_state=0).fit(table, exclude=["Channel", "Region"])
print(seg.run_["selection"])
print(seg.segments_.select("segment_id", "name", "size", "top_drivers"))

# %% External check: does each segment hold mostly one channel?
check = table.join(seg.labels_, on="customer_id")
print(check.group_by("segment_id", "Channel").len().sort("segment_id", "Channel"))
ari = adjusted_rand_score(check["Channel"], check["segment_id"])
print(f"ARI against the channel the model never saw: {ari:.2f}")
print(seg.profile(int(seg.segments_["segment_id"][0])))
