"""Assign customers to a fitted segmentation: the schema door, novelty, segments.

``assign(model, X)`` works the same for a fitted :class:`~segdiscover.Segmenter` and
for a model read back by :func:`segdiscover.persist.load`:

1. **The door.** Raw tables are built into features with the model's builders and
   the levels learned at fit (``levels=model.feature_levels_``), so the columns match;
   a customer-level table is taken as it is. Every feature the model uses must be
   there (:class:`~segdiscover.exceptions.SchemaMismatchError` names the missing
   ones), with a compatible dtype (numbers where numbers were, text where text was).
   Categories not seen at fit are allowed (encoded like the pooled rare levels) and
   reported in a :class:`~segdiscover.exceptions.SegdiscoverWarning`.
2. **Segments.** The fitted preprocessor, then the clusterer's own prediction (or the
   k-NN fallback for algorithms without one). Customers that were noise at fit go to
   their nearest segment centre with confidence 0, exactly as ``fit`` placed them.
3. **Novelty.** A customer is novel when its distance to the nearest segment centre,
   measured in the preprocessed space *before* clipping, exceeds the novelty
   threshold: the 99.9th percentile of the training customers' distances to their own
   segment centre, times 1.5. Clipping (to ±5 scaled units) would pull a customer a
   million times outside the data back to the edge of it, so the unclipped distance is
   the one that can tell.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import polars as pl
from sklearn.metrics.pairwise import euclidean_distances

from segdiscover._checks import (
    check_finite,
    check_ids,
    check_not_empty,
    parse_number_text,
    to_polars,
)
from segdiscover.exceptions import (
    ColumnNotFoundError,
    InputError,
    InvalidParameterError,
    SchemaMismatchError,
    SegdiscoverWarning,
)
from segdiscover.features import FeatureSet
from segdiscover.preprocess import MISSING, OTHER, Preprocessor, categorical_codes

if TYPE_CHECKING:
    from segdiscover.guide import OutcomeGuide
    from segdiscover.result import Segmentation

#: Training customers' distances to their own centre: this quantile ...
NOVELTY_QUANTILE = 0.999
#: ... times this margin is the novelty threshold.
NOVELTY_MARGIN = 1.5
#: A customer within this distance of a training noise customer is that customer.
NOISE_MATCH_TOLERANCE = 1e-6
#: Distinct training values kept per text column to recognise new categories.
MAX_SAVED_CATEGORIES = 1000
#: Rows per block of the distance computations (bounds their temporaries).
BLOCK_ROWS = 65_536


@dataclass(frozen=True)
class AssignState:
    """What assignment needs besides the fitted steps, computed once from training.

    Attributes
    ----------
    id_dtype : str
        dtype of the id column at fit.
    columns : list of dict
        Per feature column: ``name``, ``dtype``, ``dtype_class`` (``"numeric"`` or
        ``"text"``), ``kind`` and ``categories`` (every training value of a text
        column, sorted; None when there were more than
        :data:`MAX_SAVED_CATEGORIES`, then new categories go unreported).
    novelty_threshold : float
        Distance (preprocessed space, unclipped) beyond which a customer is novel.
    noise_X : ndarray
        Training customers the clusterer called noise, preprocessed (``0 x d`` when
        none), so assignment gives them back their placement at fit.
    novelty_quantile, novelty_margin : float
        The rule's parameters, recorded with the threshold.
    """

    id_dtype: str
    columns: list[dict[str, Any]]
    novelty_threshold: float
    noise_X: np.ndarray
    novelty_quantile: float = NOVELTY_QUANTILE
    novelty_margin: float = NOVELTY_MARGIN

    def to_dict(self) -> dict[str, Any]:
        """Return everything but ``noise_X`` as JSON-serialisable data."""
        return {
            "id_dtype": self.id_dtype,
            "columns": self.columns,
            "novelty": {
                "rule": (
                    "distance to the nearest segment centre in the preprocessed "
                    "space before clipping > quantile of training customers' "
                    "distances to their own centre x margin"
                ),
                "quantile": self.novelty_quantile,
                "margin": self.novelty_margin,
                "threshold": self.novelty_threshold,
            },
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any], noise_X: np.ndarray) -> AssignState:
        """Rebuild from :meth:`to_dict` output and the noise array."""
        nov = state["novelty"]
        return cls(
            id_dtype=str(state["id_dtype"]),
            columns=[dict(c) for c in state["columns"]],
            novelty_threshold=float(nov["threshold"]),
            noise_X=np.asarray(noise_X, dtype=np.float64),
            novelty_quantile=float(nov["quantile"]),
            novelty_margin=float(nov["margin"]),
        )


def unclipped(pre: Preprocessor) -> Preprocessor:
    """Return a copy of a fitted preprocessor that does not clip scaled values.

    Examples
    --------
    >>> pre = Preprocessor().fit(pl.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]}))
    >>> float(unclipped(pre).transform(pl.DataFrame({"a": [1e6]}))[0, 0]) > 5
    True
    """
    state = pre.to_dict()
    return Preprocessor.from_dict(
        {**state, "params": {**state["params"], "clip": float("inf")}}
    )


def cluster_space(
    pre: Preprocessor,
    guide: OutcomeGuide | None,
    feat: pl.DataFrame,
    *,
    clip: bool = True,
) -> np.ndarray:
    """Return the matrix a model's clusterer works in, for customers ``feat``.

    Unsupervised models: the preprocessed features (``clip=False`` leaves scaled
    values unclipped, so distances can tell how far outside a customer lies).
    Outcome-guided models: the customers' contributions to the outcomes
    (:class:`segdiscover.guide.OutcomeGuide`), never clipped.
    """
    if guide is not None:
        return guide.transform(categorical_codes(feat, pre.columns_))
    return (pre if clip else unclipped(pre)).transform(feat)


def unclipped_rows(
    pre: Preprocessor,
    guide: OutcomeGuide | None,
    feat: pl.DataFrame,
    X: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the rows of ``X`` that clipping changed, and those rows unclipped.

    ``X`` is :func:`cluster_space` of ``feat``.

    A value strictly inside ``[-clip, clip]`` is the same clipped or not, so only
    the rows holding a value at the bound are encoded again, without clipping: the
    unclipped matrix is ``X`` with those rows replaced, at the cost of one
    transform and a few rows instead of two transforms (and one matrix in memory
    instead of two). Outcome-guided spaces are never clipped: no rows.

    Returns
    -------
    rows : ndarray of int
        Indices into ``X``.
    U : ndarray
        Those rows as ``cluster_space(..., clip=False)`` gives them.

    Examples
    --------
    >>> pre = Preprocessor().fit(pl.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]}))
    >>> new = pl.DataFrame({"a": [1.0, 1e6, 2.0]})
    >>> X = cluster_space(pre, None, new)
    >>> rows, U = unclipped_rows(pre, None, new, X)
    >>> full = cluster_space(pre, None, new, clip=False)
    >>> rows.tolist(), bool((U == full[rows]).all())
    ([1], True)
    """
    if guide is not None or not np.isfinite(pre.clip):
        return np.zeros(0, dtype=np.int64), X[:0]
    at_bound = np.zeros(X.shape[0], dtype=bool)
    for i in range(0, X.shape[0], BLOCK_ROWS):  # blocks: no full-size temporary
        block = np.abs(X[i : i + BLOCK_ROWS]) >= pre.clip
        at_bound[i : i + BLOCK_ROWS] = block.any(axis=1)
    rows = np.flatnonzero(at_bound)
    if rows.size == 0:
        return rows, X[:0]
    U = cluster_space(pre, guide, feat[rows], clip=False)
    return rows, U


def novelty_distance(
    pre: Preprocessor,
    guide: OutcomeGuide | None,
    feat: pl.DataFrame,
    X: np.ndarray,
    centroids: np.ndarray,
    own: np.ndarray | None = None,
) -> np.ndarray:
    """Distance in the unclipped space to the nearest centre (or to ``own`` centre).

    ``X`` is :func:`cluster_space` of ``feat`` (clipped); the unclipped values come
    from :func:`unclipped_rows`. ``own`` (segment per row, -1: none) measures the
    distance to the row's own centre where it has one, as the novelty threshold is
    learned; None measures to the nearest centre, as assignment tests it.

    Examples
    --------
    >>> pre = Preprocessor().fit(pl.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]}))
    >>> new = pl.DataFrame({"a": [1.0, 1e6]})
    >>> X = cluster_space(pre, None, new)
    >>> d = novelty_distance(pre, None, new, X, np.zeros((1, 1)))
    >>> full = cluster_space(pre, None, new, clip=False)
    >>> bool((d == nearest_distance(full, np.zeros((1, 1)))).all())
    True
    """
    rows, U = unclipped_rows(pre, guide, feat, X)

    def measure(M: np.ndarray, lab: np.ndarray | None) -> np.ndarray:
        if lab is None:
            return nearest_distance(M, centroids)
        out = np.empty(M.shape[0])
        placed = lab >= 0
        if (~placed).any():
            out[~placed] = nearest_distance(M[~placed], centroids)
        # Distance to the customer's own segment centre (>= the nearest one), in
        # blocks of rows: row by row the same sums, without full-size temporaries.
        for i in range(0, M.shape[0], BLOCK_ROWS):
            b = slice(i, i + BLOCK_ROWS)
            p = placed[b]
            diff = M[b][p] - centroids[lab[b][p]]
            out[b][p] = np.sqrt((diff**2).sum(1))
        return out

    d = measure(X, own)
    if rows.size:
        d[rows] = measure(U, None if own is None else own[rows])
    return d


def nearest_distance(U: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Distance of each row of ``U`` to its nearest centroid (in blocks of rows)."""
    out = np.empty(U.shape[0])
    # Rows of inf are ids no longer in use after renumbering across runs.
    centroids = centroids[np.isfinite(centroids).all(1)]
    step = BLOCK_ROWS
    for i in range(0, U.shape[0], step):
        out[i : i + step] = euclidean_distances(U[i : i + step], centroids).min(1)
    return out


def nearest_centroid(Xp: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Nearest centroid by squared distance: the rule ``fit`` uses for noise."""
    if Xp.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    d = ((Xp[:, None, :] - centroids[None]) ** 2).sum(-1)
    out: np.ndarray = d.argmin(1).astype(np.int64)
    return out


def _dtype_class(dtype: pl.DataType) -> str:
    if dtype.is_numeric() or dtype == pl.Boolean:
        return "numeric"
    if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
        return "text"
    return "null" if dtype == pl.Null else "other"


def _schema(frame: pl.DataFrame, pre: Preprocessor) -> list[dict[str, Any]]:
    kinds = {c["name"]: c["kind"] for c in pre.columns_}
    out = []
    for name in pre.input_columns:
        s = frame.get_column(name)
        cls = _dtype_class(s.dtype)
        cats = None
        if cls == "text":
            values = s.drop_nulls().cast(pl.String).unique().sort()
            if values.len() <= MAX_SAVED_CATEGORIES:
                cats = values.to_list()
        out.append(
            {
                "name": name,
                "dtype": str(s.dtype),
                "dtype_class": cls,
                "kind": kinds[name],
                "categories": cats,
            }
        )
    return out


def fit_assign_state(
    features: pl.DataFrame,
    labels: pl.DataFrame,
    pre: Preprocessor,
    guide: OutcomeGuide | None,
    centroids: np.ndarray,
    *,
    X: np.ndarray | None = None,
) -> AssignState:
    """Compute the schema, novelty threshold and noise rows of a fitted model.

    Parameters
    ----------
    features : polars.DataFrame
        The customer-level features of the fit (id first).
    labels : polars.DataFrame
        Their labels (``segment_id``, ``is_noise``), in the same order.
    pre : Preprocessor
    guide : OutcomeGuide or None
    centroids : ndarray
        The clusterer's centres, indexed by segment id.
    X : ndarray, optional
        ``cluster_space(pre, guide, features)`` when the caller holds it (the fit
        does): it is not computed again.

    Returns
    -------
    AssignState

    Examples
    --------
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
    >>> res = seg.fit(data.tables, as_of=data.as_of).result_
    >>> state = fit_assign_state(res.features, res.labels, res.preprocessor, None,
    ...                          res.clusterer.centroids_)
    >>> state.novelty_threshold > 0, state.noise_X.shape[0]
    (True, 0)
    """
    id_col = features.columns[0]
    feat = features.drop(id_col)
    noise = labels.get_column("is_noise").to_numpy()
    labels_ = labels.get_column("segment_id").to_numpy()
    if X is None or X.shape[0] != feat.height:
        X = cluster_space(pre, guide, feat)
    own = novelty_distance(pre, guide, feat, X, centroids, own=labels_)
    return AssignState(
        id_dtype=str(features.schema[id_col]),
        columns=_schema(features, pre),
        novelty_threshold=float(np.quantile(own, NOVELTY_QUANTILE) * NOVELTY_MARGIN),
        noise_X=cluster_space(pre, guide, feat.filter(pl.Series(noise)))
        if noise.any()
        else np.zeros((0, centroids.shape[1])),
    )


# ---------------------------------------------------------------------- the door
def _missing_columns(frame: pl.DataFrame, needed: list[str]) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        shown = ", ".join(repr(c) for c in missing[:20])
        more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        msg = (
            f"The table lacks {len(missing)} column(s) the model was fitted on: "
            f"{shown}{more}. Pass every feature column the model uses "
            f"({len(needed) - 1} plus the id; a column may be null)."
        )
        raise SchemaMismatchError(msg)


def _coerce(frame: pl.DataFrame, col: dict[str, Any], id_col: str) -> pl.Series:
    s = frame.get_column(col["name"])
    got = _dtype_class(s.dtype)
    if got in (col["dtype_class"], "null"):
        return s
    if col["dtype_class"] == "numeric" and got == "text":
        # Read as the door reads text numbers at fit (thousands or decimal commas
        # included), so the file a model was fitted on is also accepted at assign.
        text = s.cast(pl.String).str.strip_chars()
        parsed, problem = parse_number_text(text)
        bad = text.is_not_null() & (text != "") & parsed.is_null()
        if not bad.any():  # numbers read as text (CSV): accepted, as at fit
            return parsed.alias(col["name"])
        example = f" (e.g. {s.filter(bad)[0]!r} for id "
        example += f"{frame.get_column(id_col).filter(bad)[0]!r}"
        example += f"; {problem})" if problem else ")"
    else:
        example = ""
    msg = (
        f"Column {col['name']!r} has dtype {s.dtype} but the model was fitted on "
        f"{col['dtype_class']} values (dtype {col['dtype']}){example}. Convert it "
        f"to {col['dtype_class']} values as at fit."
    )
    raise SchemaMismatchError(msg)


def _warn_new_categories(
    frame: pl.DataFrame, col: dict[str, Any], pre_columns: dict[str, Any]
) -> None:
    if col["categories"] is None or col["dtype_class"] != "text":
        return
    s = frame.get_column(col["name"]).drop_nulls().cast(pl.String)
    new = s.filter(~s.is_in(col["categories"]))
    if new.len() == 0:
        return
    levels = pre_columns[col["name"]]["levels"]
    as_ = OTHER if OTHER in levels else MISSING if MISSING in levels else "no level"
    examples = ", ".join(repr(v) for v in new.unique(maintain_order=True).head(3))
    warnings.warn(
        f"Column {col['name']!r} has {new.n_unique()} categories not seen at fit "
        f"(e.g. {examples}) in {new.len()} customers; they are encoded as "
        f"{as_!r}.",
        SegdiscoverWarning,
        stacklevel=4,
    )


def check_table(res: Segmentation, frame: Any) -> pl.DataFrame:
    """Check a customer-level table against the model's schema; return its features.

    Returns the id column and the model's feature columns, sorted by id.
    """
    state, id_col = res.assign_state, res.id
    table = to_polars(frame, "table")
    _missing_columns(table, [id_col, *(c["name"] for c in state.columns)])
    check_ids(table, id_col, "table", unique=True)
    check_not_empty(table, "table")  # tests/hostile: empty-assign-table
    coerced = [_coerce(table, c, id_col) for c in state.columns]
    table = table.select(id_col).with_columns(coerced)
    numeric = [c["name"] for c in state.columns if c["dtype_class"] == "numeric"]
    check_finite(table, numeric, id_col, "table")
    pre_columns = {c["name"]: c for c in res.preprocessor.columns_}
    for c in state.columns:
        _warn_new_categories(table, c, pre_columns)
    return table.sort(id_col)


def _polars_message(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def build_features(
    model: Assignable, tables: Mapping[str, Any], as_of: Any
) -> pl.DataFrame:
    """Build the model's features from raw tables with the levels learned at fit."""
    from segdiscover.result import as_result

    res = as_result(model)
    if res.input_kind != "tables":
        msg = (
            "This model was fitted on a customer-level table; pass one table with "
            "its feature columns, not a dict of raw tables."
        )
        raise InputError(msg)
    if as_of is None:
        msg = "Raw tables need as_of=..., the cutoff date for features."
        raise InputError(msg)
    fs = model.features or FeatureSet.default(id=res.id)
    levels = dict(res.feature_levels)
    builders = [b for b in fs.builders if b.family in levels]
    missing = sorted({b.table for b in builders if b.table not in tables})
    if missing:
        msg = (
            f"The model's features come from the tables "
            f"{sorted({b.table for b in builders})}; the tables given lack "
            f"{missing}. Pass every table the model was fitted on."
        )
        raise SchemaMismatchError(msg)
    used = FeatureSet(
        builders,
        id=fs.id,
        customers_table=fs.customers_table,
        signup=fs.signup,
        skip_missing_tables=False,
    )
    try:
        built = used.build(tables, as_of, levels=levels)
    except ColumnNotFoundError as exc:
        raise SchemaMismatchError(str(exc)) from exc
    except (pl.exceptions.ColumnNotFoundError, pl.exceptions.SchemaError) as exc:
        msg = f"A raw table lacks a column the model needs: {_polars_message(exc)}"
        raise SchemaMismatchError(msg) from exc
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError) as exc:
        msg = (
            "A raw table column has a dtype the model cannot use (e.g. text where "
            f"numbers were at fit): {_polars_message(exc)}"
        )
        raise SchemaMismatchError(msg) from exc
    return built.frame.rename({fs.id: res.id}) if fs.id != res.id else built.frame


# -------------------------------------------------------------------- assignment
def _check_flags(force: Any, allow_unassigned: Any) -> None:
    for name, value in (("force", force), ("allow_unassigned", allow_unassigned)):
        if not isinstance(value, bool | np.bool_):
            msg = (
                f"The {name!r} parameter of assign must be a bool. "
                f"Got {value!r} instead."
            )
            raise InvalidParameterError(msg)


def match_noise(Xp: np.ndarray, noise_X: np.ndarray) -> np.ndarray:
    """Rows of ``Xp`` that are training noise customers (to within rounding).

    Both sides are projected on one fixed direction and sorted, so only rows whose
    projection falls within the tolerance of a noise customer's are compared in
    full: linear time in the rows instead of rows x noise customers.

    Examples
    --------
    >>> noise = np.array([[1.0, 2.0], [5.0, 5.0]])
    >>> match_noise(np.array([[5.0, 5.0], [1.0, 2.5]]), noise).tolist()
    [True, False]
    """
    out = np.zeros(Xp.shape[0], dtype=bool)
    if noise_X.shape[0] == 0 or Xp.shape[0] == 0:
        return out
    w = np.linspace(1.0, 2.0, Xp.shape[1])
    order = np.argsort(noise_X @ w, kind="stable")
    proj = (noise_X @ w)[order]
    px = Xp @ w
    slack = NOISE_MATCH_TOLERANCE * np.linalg.norm(w)  # |w.(x-y)| <= |w| |x-y|
    lo = np.searchsorted(proj, px - slack, side="left")
    hi = np.searchsorted(proj, px + slack, side="right")
    for i in np.flatnonzero(hi > lo):
        near = noise_X[order[lo[i] : hi[i]]]
        out[i] = np.sqrt(((near - Xp[i]) ** 2).sum(1)).min() <= NOISE_MATCH_TOLERANCE
    return out


class Assignable(Protocol):
    """A fitted model: its segmentation and the feature builders it was fitted with."""

    @property
    def result_(self) -> Segmentation:
        """The fitted segmentation."""

    @property
    def features(self) -> FeatureSet | None:
        """The feature builders (None: the default set, or a customer table)."""


def assign(
    model: Assignable,
    X: Any,
    *,
    as_of: Any = None,
    force: bool = False,
    allow_unassigned: bool = False,
) -> pl.DataFrame:
    """Assign customers to the segments of a fitted (or loaded) model.

    Parameters
    ----------
    model : Segmenter or LoadedModel
        Fitted.
    X : dict of DataFrames or DataFrame
        Raw tables by name (features are built as of ``as_of`` with the model's
        builders and learned levels), or a customer-level table with the model's
        feature columns (extra columns are ignored).
    as_of : date, datetime or str, optional
        Feature cutoff; required with raw tables.
    force : bool, default False
        Give every customer its segment, even where ``allow_unassigned`` would
        leave it without one.
    allow_unassigned : bool, default False
        Give novel customers and customers that were noise at fit segment -1
        (``"no segment"``, confidence 0) instead of their nearest segment.

    Returns
    -------
    polars.DataFrame
        ``<id>``, ``segment_id`` (one of the model's segments; -1 only with
        ``allow_unassigned``), ``segment_name``, ``confidence`` in [0, 1] (rounded
        to 6 decimals), ``is_novel`` and ``is_noise``; one row per customer, sorted
        by id.

    Raises
    ------
    SchemaMismatchError
        A feature column (or raw table) is missing or has an incompatible dtype.
    InputError
        Duplicated or null ids, non-finite numbers, raw tables without ``as_of``.

    Examples
    --------
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
    >>> seg = seg.fit(data.tables, as_of=data.as_of)
    >>> out = assign(seg, data.tables, as_of=data.as_of)
    >>> out.columns[1:]
    ['segment_id', 'segment_name', 'confidence', 'is_novel', 'is_noise']
    >>> (out["segment_id"] == seg.labels_["segment_id"]).all()
    True
    """
    from segdiscover.result import as_result, segment_names

    _check_flags(force, allow_unassigned)
    res = as_result(model)
    state = res.assign_state
    if isinstance(X, Mapping):
        X = build_features(model, X, as_of)
    frame = check_table(res, X)
    feat = frame.drop(res.id)
    Xp = cluster_space(res.preprocessor, res.guide, feat)
    labels, conf = res.clusterer.assign(Xp)
    labels, conf = labels.astype(np.int64), conf.astype(np.float64)
    centroids = res.clusterer.centroids_
    noise = match_noise(Xp, state.noise_X) | (labels < 0)
    labels[noise] = nearest_centroid(Xp[noise], centroids)
    conf[noise] = 0.0  # placed, not found: as at fit
    # Unclipped distances from the clipped matrix (one transform, one matrix).
    dist = novelty_distance(res.preprocessor, res.guide, feat, Xp, centroids)
    del Xp, feat
    novel = dist > state.novelty_threshold
    if allow_unassigned and not force:
        out = novel | noise
        labels[out], conf[out] = -1, 0.0
    ids = pl.Series("segment_id", labels, dtype=pl.Int64)
    return frame.select(res.id).with_columns(
        ids,
        segment_names(ids, res.names).alias("segment_name"),
        pl.Series("confidence", np.round(np.clip(conf, 0.0, 1.0), 6)),
        pl.Series("is_novel", novel, dtype=pl.Boolean),
        pl.Series("is_noise", noise, dtype=pl.Boolean),
    )
