"""Migration and drift between two recorded runs.

* **Migration matrix.** One row per segment of the earlier run, one column per
  segment of the later run, counting customers present in both runs; the column
  ``left`` counts the earlier run's customers absent from the later run, so each row
  sums to the earlier run's segment size (``total``). The row ``new`` counts the
  later run's customers absent from the earlier run, so each column sums to the later
  run's segment size. Segment ``-1`` ("no segment") is a row/column like the others
  when a run has one.
* **Share changes.** Size and share of each segment id in both runs (ids are stable
  across runs, see :mod:`segdiscover.lineage`).
* **Population stability index** per feature, overall and per segment id present in
  both runs: ``PSI = sum((c - r) * ln(c / r))`` over bins, where ``r`` and ``c`` are
  the shares of the earlier (reference) and later run's customers in each bin.
  Numeric features use the reference's deciles as bin edges (bins closed on the
  right, repeated edges merged) plus a bin for nulls; text features one bin per
  level plus nulls. Shares are floored at :data:`PSI_FLOOR` so an empty bin does not
  give an infinite index. The usual reading: under 0.1 stable, 0.1 to 0.25 a
  moderate shift, 0.25 and over a major shift. Per-segment values need at least
  :data:`MIN_SEGMENT_ROWS` customers in the sample of each run (else null).
* **Outcome changes.** For outcomes recorded with both runs, the overall value and
  each continuing segment's value before and after.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from segdiscover._json import plain
from segdiscover.exceptions import InputError, InvalidParameterError

#: Bins for numeric features (the reference run's deciles).
PSI_BINS = 10
#: Floor on bin shares, so empty bins give a large but finite index.
PSI_FLOOR = 1e-4
#: PSI at and above which a shift is moderate ...
PSI_MODERATE = 0.1
#: ... and major.
PSI_MAJOR = 0.25
#: Customers a segment needs in each run's sample for a per-segment PSI.
MIN_SEGMENT_ROWS = 50


def psi_reading(value: float | None) -> str:
    """Read a PSI value: ``"stable"``, ``"moderate shift"`` or ``"major shift"``.

    Examples
    --------
    >>> psi_reading(0.05), psi_reading(0.1), psi_reading(0.3)
    ('stable', 'moderate shift', 'major shift')
    """
    if value is None or not np.isfinite(value):
        return "not enough data"
    if value >= PSI_MAJOR:
        return "major shift"
    return "moderate shift" if value >= PSI_MODERATE else "stable"


def psi(reference: Any, current: Any, *, bins: int = PSI_BINS) -> float:
    """Compute the population stability index of ``current`` against ``reference``.

    Parameters
    ----------
    reference, current : sequence or polars.Series
        Values of one feature in the earlier and the later population; numbers
        (binned at the reference's quantiles) or text (one bin per level). Nulls
        (and NaN) form a bin of their own.
    bins : int, default 10
        Quantile bins of a numeric feature.

    Returns
    -------
    float

    Examples
    --------
    Shares 1/2, 1/2 become 3/4, 1/4, so PSI = 1/4 ln(3/2) + 1/4 ln(2):

    >>> round(psi(["a", "a", "b", "b"], ["a", "a", "a", "b"]), 6)
    0.274653
    >>> round(psi([1, 2, 3, 4], [1, 1, 1, 4], bins=2), 6)
    0.274653
    >>> psi([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    0.0
    """
    ref = pl.Series("r", reference, strict=False)
    cur = pl.Series("c", current, strict=False)
    if ref.len() == 0 or cur.len() == 0:
        return float("nan")
    if ref.dtype.is_numeric() and cur.dtype.is_numeric():
        r = ref.cast(pl.Float64).fill_nan(None)
        c = cur.cast(pl.Float64).fill_nan(None)
        values = r.drop_nulls().to_numpy()
        qs = np.linspace(0, 1, bins + 1)[1:-1]
        edges = np.unique(np.quantile(values, qs)) if values.size else np.empty(0)

        def counts(s: pl.Series) -> np.ndarray:
            x = s.drop_nulls().to_numpy()
            idx = np.searchsorted(edges, x, side="left")
            out = np.bincount(idx, minlength=edges.size + 1).astype(float)
            return np.append(out, s.null_count())

        p, q = counts(r), counts(c)
    else:
        r, c = ref.cast(pl.String), cur.cast(pl.String)
        levels = sorted(set(r.drop_nulls().to_list()) | set(c.drop_nulls().to_list()))

        def counts(s: pl.Series) -> np.ndarray:
            vc = dict(s.drop_nulls().value_counts().iter_rows())
            return np.array([vc.get(v, 0) for v in levels] + [s.null_count()], float)

        p, q = counts(r), counts(c)
    p = np.maximum(p / p.sum(), PSI_FLOOR)
    q = np.maximum(q / q.sum(), PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def migration_matrix(
    previous: pl.DataFrame, current: pl.DataFrame, *, id: str = "customer_id"
) -> pl.DataFrame:
    """Count customers moving between segments from one run to the next.

    Parameters
    ----------
    previous, current : polars.DataFrame
        ``<id>`` and ``segment_id`` of every customer of each run.
    id : str, default "customer_id"

    Returns
    -------
    polars.DataFrame
        ``from_segment`` (the earlier run's segment id as text, and ``"new"``), one
        column per later segment id, ``left`` and ``total``. Each segment row sums
        (later segments + ``left``) to that segment's size in the earlier run.

    Examples
    --------
    >>> prev = pl.DataFrame({"customer_id": ["a", "b", "c"], "segment_id": [0, 0, 1]})
    >>> cur = pl.DataFrame({"customer_id": ["a", "c", "d"], "segment_id": [0, 2, 2]})
    >>> migration_matrix(prev, cur).rows()
    [('0', 1, 0, 1, 2), ('1', 0, 1, 0, 1), ('new', 0, 1, 0, 1)]
    """
    p = previous.select(pl.col(id).cast(pl.String), pl.col("segment_id").alias("a"))
    c = current.select(pl.col(id).cast(pl.String), pl.col("segment_id").alias("b"))
    j = p.join(c, on=id, how="full", coalesce=True)
    long = (
        j.with_columns(
            pl.col("a").cast(pl.String).fill_null("new").alias("from_segment"),
            pl.col("b").cast(pl.String).fill_null("left").alias("to"),
        )
        .group_by("from_segment", "to")
        .len()
    )
    after = sorted(c.get_column("b").unique().to_list())
    before = sorted(p.get_column("a").unique().to_list())
    cols = [str(v) for v in after] + ["left"]
    rows = [str(v) for v in before] + ["new"]
    lookup = {(f, t): n for f, t, n in long.iter_rows()}
    data: dict[str, list[Any]] = {"from_segment": rows}
    for t in cols:
        data[t] = [int(lookup.get((f, t), 0)) for f in rows]
    data["total"] = [sum(data[t][i] for t in cols) for i in range(len(rows))]
    schema = {"from_segment": pl.String, **dict.fromkeys([*cols, "total"], pl.Int64)}
    return pl.DataFrame(data, schema=schema)


@dataclass
class RunData:
    """What :func:`compare` needs of one recorded run (read by ``RunStore``)."""

    run_id: int
    label: str | None
    as_of: str | None
    id: str
    segments: pl.DataFrame  # segment_id, name, size, share, outcomes (JSON text)
    assignments: pl.DataFrame  # <id> (text), segment_id
    sample: pl.DataFrame  # customer_id, segment_id, feature, value_num, value_text
    kinds: dict[str, str]  # feature -> "numeric" | "text"
    outcomes: dict[str, float] = field(default_factory=dict)


def _psi_table(a: RunData, b: RunData) -> pl.DataFrame:
    feats = [f for f in a.kinds if f in b.kinds]
    common = sorted(
        set(a.segments.get_column("segment_id").to_list())
        & set(b.segments.get_column("segment_id").to_list())
    )
    rows = []
    for f in feats:
        col = "value_num" if a.kinds[f] == "numeric" == b.kinds[f] else "value_text"
        ra = a.sample.filter(pl.col("feature") == f)
        rb = b.sample.filter(pl.col("feature") == f)
        if col == "value_text":  # a feature whose dtype changed is read as text
            ra = ra.with_columns(pl.coalesce(pl.col("value_text"), pl.col("value_num")))
            rb = rb.with_columns(pl.coalesce(pl.col("value_text"), pl.col("value_num")))
        scopes: list[tuple[int | None, pl.DataFrame, pl.DataFrame]] = [(None, ra, rb)]
        for s in common:
            scopes.append(
                (
                    s,
                    ra.filter(pl.col("segment_id") == s),
                    rb.filter(pl.col("segment_id") == s),
                )
            )
        for s, x, y in scopes:
            enough = s is None or min(x.height, y.height) >= MIN_SEGMENT_ROWS
            v = psi(x.get_column(col), y.get_column(col)) if enough else None
            v = None if v is None or not np.isfinite(v) else round(v, 6)
            rows.append(
                {
                    "feature": f,
                    "segment_id": s,
                    "psi": v,
                    "reading": psi_reading(v),
                    "rows_before": x.height,
                    "rows_after": y.height,
                }
            )
    schema = {
        "feature": pl.String,
        "segment_id": pl.Int64,
        "psi": pl.Float64,
        "reading": pl.String,
        "rows_before": pl.Int64,
        "rows_after": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


def _shares(a: RunData, b: RunData) -> pl.DataFrame:
    cols = ["segment_id", "name", "size", "share"]
    x = a.segments.select(cols).rename(
        {"name": "name_before", "size": "size_before", "share": "share_before"}
    )
    y = b.segments.select(cols).rename(
        {"name": "name_after", "size": "size_after", "share": "share_after"}
    )
    return (
        x.join(y, on="segment_id", how="full", coalesce=True)
        .with_columns(
            pl.coalesce("name_after", "name_before").alias("name"),
            pl.col("size_before", "size_after").fill_null(0),
            pl.col("share_before", "share_after").fill_null(0.0),
        )
        .with_columns(
            (pl.col("share_after") - pl.col("share_before")).round(6).alias("change")
        )
        .select(
            "segment_id",
            "name",
            "size_before",
            "size_after",
            "share_before",
            "share_after",
            "change",
        )
        .sort("segment_id")
    )


def _outcomes(a: RunData, b: RunData) -> pl.DataFrame:
    rows = []
    for o in sorted(set(a.outcomes) & set(b.outcomes)):
        rows.append((o, None, a.outcomes[o], b.outcomes[o]))
    per_a = {
        r["segment_id"]: json.loads(r["outcomes"] or "{}")
        for r in a.segments.iter_rows(named=True)
    }
    for r in b.segments.iter_rows(named=True):
        s, after = r["segment_id"], json.loads(r["outcomes"] or "{}")
        for o in sorted(set(after) & set(per_a.get(s, {}))):
            rows.append((o, s, per_a[s][o], after[o]))
    frame = pl.DataFrame(
        rows,
        schema={
            "outcome": pl.String,
            "segment_id": pl.Int64,
            "before": pl.Float64,
            "after": pl.Float64,
        },
        orient="row",
    )
    return frame.with_columns((pl.col("after") - pl.col("before")).alias("change"))


@dataclass
class DriftReport:
    """How segments changed between two recorded runs (see :func:`compare`).

    Attributes
    ----------
    previous, current : dict
        ``run_id``, ``label`` and ``as_of`` of each run.
    customers : dict
        ``both``, ``left`` (earlier run only) and ``new`` (later run only).
    migration : polars.DataFrame
        See :func:`migration_matrix`.
    shares : polars.DataFrame
        ``segment_id``, ``name``, sizes and shares before and after, ``change``.
    psi : polars.DataFrame
        ``feature``, ``segment_id`` (null = all customers), ``psi``, ``reading``,
        sample rows before and after.
    outcomes : polars.DataFrame
        ``outcome``, ``segment_id`` (null = overall), ``before``, ``after``,
        ``change``.
    lineage : list of dict
        Events (split, merged, born, died, continued) recorded when the later run
        was aligned to the earlier one; empty when the runs are not consecutive.
    """

    previous: dict[str, Any]
    current: dict[str, Any]
    customers: dict[str, int]
    migration: pl.DataFrame
    shares: pl.DataFrame
    psi: pl.DataFrame
    outcomes: pl.DataFrame
    lineage: list[dict[str, Any]]

    def to_polars(self, part: str = "migration") -> pl.DataFrame:
        """Return one part as a DataFrame: migration, shares, psi, outcomes, lineage."""
        parts = {
            "migration": self.migration,
            "shares": self.shares,
            "psi": self.psi,
            "outcomes": self.outcomes,
            "lineage": pl.DataFrame(
                self.lineage,
                schema={
                    "kind": pl.String,
                    "before": pl.List(pl.Int64),
                    "after": pl.List(pl.Int64),
                    "text": pl.String,
                },
            ),
        }
        if part not in parts:
            msg = f"DriftReport has no part {part!r}; parts are {sorted(parts)}."
            raise InvalidParameterError(msg)
        return parts[part]

    def to_dict(self) -> dict[str, Any]:
        """Return every part as JSON-serialisable data (lists of row objects)."""
        return plain(
            {
                "schema_version": 1,
                "previous": self.previous,
                "current": self.current,
                "customers": self.customers,
                "lineage": self.lineage,
                "migration": self.migration.to_dicts(),
                "shares": self.shares.to_dicts(),
                "psi": self.psi.to_dicts(),
                "outcomes": self.outcomes.to_dicts(),
            }
        )

    def summary(self) -> list[str]:
        """Summarise: customers, lineage, share moves, drifting features."""
        p, c = self.previous, self.current
        n = self.customers
        lines = [
            f"Run {c['run_id']} compared with run {p['run_id']}: {n['both']:,} "
            f"customers in both, {n['left']:,} left, {n['new']:,} new."
        ]
        lines += [e["text"][0].upper() + e["text"][1:] + "." for e in self.lineage]
        moved = self.shares.filter(pl.col("change").abs() >= 0.02).sort(
            pl.col("change").abs(), descending=True
        )
        for r in moved.head(5).iter_rows(named=True):
            lines.append(
                f"Segment {r['segment_id']} ({r['name']}): share "
                f"{r['share_before']:.1%} -> {r['share_after']:.1%}."
            )
        over = self.psi.filter(
            pl.col("segment_id").is_null() & (pl.col("psi") >= PSI_MODERATE)
        ).sort("psi", descending=True)
        if over.height:
            top = ", ".join(
                f"{f} ({v:.2f})"
                for f, v in over.select("feature", "psi").head(8).rows()
            )
            lines.append(f"Features drifting overall (PSI >= {PSI_MODERATE}): {top}.")
        else:
            lines.append(f"No feature drifts overall (every PSI < {PSI_MODERATE}).")
        return lines

    def to_markdown(self) -> str:
        """Render a report section (Markdown)."""
        return _markdown(self)

    def flow_chart(self) -> bytes:
        """Render the flows between the two runs as a PNG (alluvial chart)."""
        from segdiscover.report._flow import flow_chart

        return flow_chart(self)

    def write(self, folder: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``drift.md``, ``drift.json`` and ``drift_flows.png`` into a folder.

        The three files are published together in one atomic step (see
        :func:`segdiscover._atomic.publish`): a reader sees the earlier comparison
        or the new one, never one file of each.

        Returns
        -------
        dict of str to Path
            The files written.
        """
        from segdiscover._atomic import publish

        out = Path(folder)
        if os.path.lexists(out) and not out.is_dir():
            msg = f"The drift output {str(out)!r} is a file; give a folder."
            raise InputError(msg)
        files = {
            "drift.md": self.to_markdown().encode(),
            "drift.json": json.dumps(
                self.to_dict(), indent=2, allow_nan=False
            ).encode(),
            "drift_flows.png": self.flow_chart(),
        }

        def build(tmp: Path) -> None:
            for name, data in files.items():
                (tmp / name).write_bytes(data)

        try:
            publish(out, build, managed=files)
        except OSError as exc:
            msg = f"Cannot write the drift output {str(out)!r}: {exc.strerror or exc}"
            msg += f" ({exc.filename})." if exc.filename else "."
            raise InputError(msg) from exc
        return {name: out / name for name in files}

    def _repr_html_(self) -> str:
        from html import escape

        items = "".join(f"<li>{escape(line)}</li>" for line in self.summary())
        head = "".join(f"<th>{escape(c)}</th>" for c in self.migration.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>"
            for row in self.migration.rows()
        )
        return (
            f"<div class='sd-drift'><ul>{items}</ul><table><thead><tr>{head}</tr>"
            f"</thead><tbody>{body}</tbody></table></div>"
        )

    def __str__(self) -> str:
        return "\n".join(self.summary())


def _md_table(frame: pl.DataFrame) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v).replace("|", "\\|")

    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.rows()]
    return "\n".join([head, rule, *body])


def _markdown(r: DriftReport) -> str:
    title = f"## Drift: run {r.current['run_id']} vs run {r.previous['run_id']}"
    parts = [title, "", *(f"- {line}" for line in r.summary()), ""]
    parts += ["### Migration (customers)", "", _md_table(r.migration), ""]
    parts += ["### Segment shares", "", _md_table(r.shares), ""]
    overall = r.psi.filter(pl.col("segment_id").is_null()).sort("psi", descending=True)
    parts += ["### Feature drift (PSI, all customers)", ""]
    parts += [_md_table(overall.drop("segment_id")), ""]
    per = r.psi.filter(
        pl.col("segment_id").is_not_null() & (pl.col("psi") >= PSI_MODERATE)
    ).sort("psi", descending=True)
    if per.height:
        parts += ["### Feature drift within segments (PSI >= 0.1)", ""]
        parts += [_md_table(per), ""]
    if r.outcomes.height:
        parts += ["### Outcomes", "", _md_table(r.outcomes), ""]
    parts.append(
        "PSI reading: under 0.1 stable, 0.1 to 0.25 moderate shift, 0.25 and over "
        "major shift. Migration rows add up to the earlier run's segment sizes "
        "(`left`: customers not in the later run; row `new`: customers new to it)."
    )
    return "\n".join(parts) + "\n"


def compare(
    a: RunData, b: RunData, *, lineage: list[dict[str, Any]] | None = None
) -> DriftReport:
    """Build the :class:`DriftReport` of run ``b`` against the earlier run ``a``."""
    ida = a.assignments.get_column(a.id).cast(pl.String)
    idb = b.assignments.get_column(b.id).cast(pl.String)
    both = int(ida.is_in(idb.implode()).sum())
    return DriftReport(
        previous={"run_id": a.run_id, "label": a.label, "as_of": a.as_of},
        current={"run_id": b.run_id, "label": b.label, "as_of": b.as_of},
        customers={"both": both, "left": ida.len() - both, "new": idb.len() - both},
        migration=migration_matrix(
            a.assignments.rename({a.id: "customer_id"}),
            b.assignments.rename({b.id: "customer_id"}),
        ),
        shares=_shares(a, b),
        psi=_psi_table(a, b),
        outcomes=_outcomes(a, b),
        lineage=list(lineage or []),
    )
