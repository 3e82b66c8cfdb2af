"""Stable segment ids across runs, and what happened to each segment.

A new run is compared with the previous one on the customers present in both:

1. **Alignment.** Segments are matched one to one by maximum overlap (Hungarian
   assignment on the contingency table, :func:`segdiscover.stability.align_labels`).
   A matched new segment takes the old segment's id (and name) when the match is
   substantial: at least half of the old segment's customers went to it, or at least
   half of the new segment's customers came from the old one and they are at least
   :data:`SUBSTANTIAL` (20%) of it. Any other new segment is
   a new id, after the largest id the run history has ever used (ids of segments
   that died are never reused), in order of size.
2. **Lineage.** From the same table, with ``R[o, n]`` the share of old segment
   ``o``'s customers that went to new segment ``n`` and ``K[o, n]`` the share of
   ``n``'s customers that came from ``o``:

   * ``o`` **split** into two or more new segments when each receives at least
     :data:`SUBSTANTIAL` (20%) of ``o``'s customers and is mostly (``K >= 0.5``)
     made of them: "segment 4 split into 4 and 7";
   * two or more old segments **merged** into ``n`` when each sends it at least half
     of its customers (``R >= 0.5``) and each makes up at least 20% of ``n``;
   * a segment whose id is in both runs and takes part in neither **continued**;
   * a new id that is not part of a split is **born**; an old id that is gone and
     did not merge **died** (the sentence says where its customers went).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from segdiscover.stability import align_labels, contingency

#: Share of an old segment's customers a new segment must receive to count as a
#: part of a split (and of a new segment's customers for a merge parent).
SUBSTANTIAL = 0.2
#: Share that makes a flow the main one (a match kept, a split part, a merge).
MAJORITY = 0.5


@dataclass(frozen=True)
class LineageEvent:
    """One thing that happened to segments between two runs.

    Attributes
    ----------
    kind : {"continued", "split", "merged", "born", "died"}
    before : tuple of int
        Segment ids in the previous run involved.
    after : tuple of int
        Segment ids in the new run involved.
    text : str
        The event as a sentence, e.g. ``"segment 4 split into 4 and 7"``.
    """

    kind: str
    before: tuple[int, ...]
    after: tuple[int, ...]
    text: str

    def to_dict(self) -> dict[str, object]:
        """Return the event as JSON-serialisable data."""
        return {
            "kind": self.kind,
            "before": list(self.before),
            "after": list(self.after),
            "text": self.text,
        }


@dataclass
class Alignment:
    """Result of :func:`align_runs`.

    Attributes
    ----------
    mapping : dict of int to int
        New run's id -> stable id.
    matched : dict of int to int
        Stable id -> the previous run's id it continues (the same id).
    events : list of LineageEvent
    overlap : int
        Customers present in both runs (the ones compared).
    """

    mapping: dict[int, int]
    matched: dict[int, int] = field(default_factory=dict)
    events: list[LineageEvent] = field(default_factory=list)
    overlap: int = 0


#: Share of an old segment's customers within which profile similarity, not
#: overlap, decides which new segment keeps its id (a near-even split).
TIE_SHARE = 0.02


def _join(ids: list[int]) -> str:
    words = [str(i) for i in ids]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def align_runs(
    previous: np.ndarray,
    current: np.ndarray,
    *,
    current_ids: list[int],
    current_sizes: dict[int, int],
    previous_ids: list[int],
    next_id: int,
    similarity: dict[tuple[int, int], float] | None = None,
) -> Alignment:
    """Align a new run's segment ids to the previous run's and name the changes.

    Parameters
    ----------
    previous, current : array of int, shape (n,)
        Segment of each customer present in both runs, in the same order
        (previous run's ids, new run's ids); -1 (no segment) is left out.
    current_ids : list of int
        Every segment of the new run (some may have no customer in common).
    current_sizes : dict of int to int
        Size of each new segment in the whole new run (orders new ids).
    previous_ids : list of int
        Every segment of the previous run.
    next_id : int
        The first id never used in the run history.
    similarity : dict of (int, int) to float, optional
        ``(previous id, new id)`` -> similarity in [0, 1] of the two segments'
        profiles. Breaks near-ties in overlap only: it weighs up to
        ``TIE_SHARE`` (2%) of the old segment's customers (at least half a
        customer), e.g. which half of a segment split 50/50 keeps its id.

    Returns
    -------
    Alignment

    Examples
    --------
    A segment (0) splits in two; the larger part keeps its id:

    >>> import numpy as np
    >>> prev = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1])
    >>> new = np.array([5, 5, 5, 6, 6, 6, 7, 7, 7])
    >>> al = align_runs(prev, new, current_ids=[5, 6, 7],
    ...                 current_sizes={5: 3, 6: 3, 7: 3}, previous_ids=[0, 1],
    ...                 next_id=2)
    >>> al.mapping
    {5: 0, 6: 2, 7: 1}
    >>> [e.text for e in al.events]
    ['segment 0 split into 0 and 2 (50% and 50% of its customers)', 'segment 1 continued (Jaccard 1.00)']
    """  # noqa: E501
    previous = np.asarray(previous)
    current = np.asarray(current)
    table, ur, uc = contingency(previous, current)
    if similarity and table.size:
        tie = np.array(
            [[similarity.get((int(r), int(c)), 0.0) for c in uc] for r in ur]
        )
        # Up to 2% of the old segment's customers: a near-even split (254 vs 253
        # customers after a few strays moved) goes to the half that still looks
        # like the parent, as an exact tie does; a clear majority still decides.
        weight = np.maximum(TIE_SHARE * table.sum(1, keepdims=True), 0.5)
        rr, cc = linear_sum_assignment(-(table + weight * np.clip(tie, 0, 1)))
        first = {int(uc[j]): int(ur[i]) for i, j in zip(rr, cc, strict=True)}
    else:
        first = align_labels(previous, current) if previous.size else {}
    rows = {int(v): i for i, v in enumerate(ur)}
    cols = {int(v): j for j, v in enumerate(uc)}
    mapping: dict[int, int] = {}
    for c, r in first.items():
        if c < 0 or r not in rows or c not in cols:
            continue
        x = table[rows[r], cols[c]]
        row_total, col_total = table[rows[r]].sum(), table[:, cols[c]].sum()
        # Most of the old segment went there, or the new segment is mostly made of
        # it and holds a real part of it (not a handful of stragglers).
        if x >= MAJORITY * row_total or (
            x >= MAJORITY * col_total and x >= SUBSTANTIAL * row_total
        ):
            mapping[c] = r
    fresh = sorted(
        (c for c in current_ids if c not in mapping),
        key=lambda c: (-current_sizes.get(c, 0), c),
    )
    for c in fresh:
        mapping[c] = next_id
        next_id += 1
    out = Alignment(mapping=dict(sorted(mapping.items())), overlap=int(table.sum()))
    out.matched = {r: r for r in mapping.values() if r in previous_ids}
    out.events = _events(table, ur, [mapping[int(c)] for c in uc], out, previous_ids)
    return out


def _events(
    table: np.ndarray,
    old: np.ndarray,
    new: list[int],
    al: Alignment,
    previous_ids: list[int],
) -> list[LineageEvent]:
    stable_new = sorted(al.mapping.values())
    row_tot = table.sum(1, keepdims=True).astype(float)
    col_tot = table.sum(0, keepdims=True).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        R = np.nan_to_num(table / row_tot)
        K = np.nan_to_num(table / col_tot)
    col = {n: j for j, n in enumerate(new)}
    events: list[LineageEvent] = []
    in_split: set[int] = set()
    in_merge_new: set[int] = set()
    in_merge_old: set[int] = set()
    for i, o in enumerate(int(v) for v in old):
        parts = [
            j for j in range(len(new)) if R[i, j] >= SUBSTANTIAL and K[i, j] >= 0.5
        ]
        if len(parts) < 2:
            continue
        # The part that keeps the old id first, then by share.
        parts.sort(key=lambda j: (new[j] != o, -R[i, j], new[j]))
        ids = [new[j] for j in parts]
        shares = " and ".join(_pct(R[i, j]) for j in parts)
        events.append(
            LineageEvent(
                "split",
                (o,),
                tuple(ids),
                f"segment {o} split into {_join(ids)} ({shares} of its customers)",
            )
        )
        in_split.update([o, *ids])
    for j, n in enumerate(new):
        parents = [
            i for i in range(len(old)) if K[i, j] >= SUBSTANTIAL and R[i, j] >= 0.5
        ]
        if len(parents) < 2:
            continue
        parents.sort(key=lambda i: (int(old[i]) != n, -K[i, j], int(old[i])))
        ids = [int(old[i]) for i in parents]
        events.append(
            LineageEvent(
                "merged",
                tuple(ids),
                (n,),
                f"segments {_join(ids)} merged into {n}",
            )
        )
        in_merge_new.add(n)
        in_merge_old.update(ids)
    row_of = {int(v): i for i, v in enumerate(old)}
    for n in stable_new:
        if n in in_split or n in in_merge_new:
            continue
        if n in previous_ids:
            if n in row_of and n in col:
                i, j = row_of[n], col[n]
                union = row_tot[i, 0] + col_tot[0, j] - table[i, j]
                jac = table[i, j] / union if union else 0.0
                text = f"segment {n} continued (Jaccard {jac:.2f})"
            else:
                text = f"segment {n} continued"
            events.append(LineageEvent("continued", (n,), (n,), text))
            continue
        if n in col and col_tot[0, col[n]] > 0:
            j = col[n]
            i = int(K[:, j].argmax())
            text = (
                f"segment {n} is new ({_pct(K[i, j])} of its customers in both runs "
                f"were in segment {int(old[i])})"
            )
        else:
            text = f"segment {n} is new (made of customers new to this run)"
        events.append(LineageEvent("born", (), (n,), text))
    for o in previous_ids:
        if o in al.matched or o in in_split or o in in_merge_old:
            continue
        if o in row_of and row_tot[row_of[o], 0] > 0:
            i = row_of[o]
            j = int(R[i].argmax())
            text = (
                f"segment {o} ended (most of its customers, {_pct(R[i, j])}, went to "
                f"segment {new[j]})"
            )
        else:
            text = f"segment {o} ended (none of its customers are in this run)"
        events.append(LineageEvent("died", (o,), (), text))
    order = {"split": 0, "merged": 1, "born": 2, "died": 3, "continued": 4}
    events.sort(key=lambda e: (order[e.kind], e.before or e.after))
    return events
