"""The surrogate: gradient-boosted trees that learn the segment labels.

Its held-out accuracy is the *fidelity* of every explanation built on it: SHAP values
explain the surrogate, so they explain the segments only as far as the surrogate
reproduces them. Fidelity is measured on customers the surrogate never saw.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from sklearn.utils import check_random_state

from segdiscover._resources import resolve_n_jobs


def stratified_sample(
    labels: np.ndarray,
    cap: int,
    rng: np.random.RandomState | None,
    min_per_class: int = 50,
    *,
    keys: np.ndarray | None = None,
) -> np.ndarray:
    """Sorted row indices: at most ``cap`` rows, every class represented.

    Each class gets a share proportional to its size but at least
    ``min(size, min_per_class, cap // classes)`` rows, so small segments are still
    explained; when those floors push the total past ``cap``, the classes above
    their floor give back the excess in proportion.

    With ``keys`` (one number per row, e.g. a hash of the customer id), each class
    keeps its rows with the smallest keys instead of a random draw (``rng`` is not
    used): the same customers whatever the row order and the seed.

    Examples
    --------
    By hand: floors min(100, 50, 120 // 4) = 30; shares 84, 12, 12, 12 give
    84, 30, 30, 30 = 174 rows, so class 0 (54 above its floor) gives back 54.

    >>> labels = np.repeat([0, 1, 2, 3], [700, 100, 100, 100])
    >>> rows = stratified_sample(labels, 120, np.random.RandomState(0))
    >>> len(rows), np.bincount(labels[rows]).tolist()
    (120, [30, 30, 30, 30])

    Keyed, the rows follow the keys, not the row order:

    >>> keys = np.random.default_rng(1).permutation(1000)
    >>> order = np.random.default_rng(2).permutation(1000)
    >>> a = stratified_sample(labels, 120, None, keys=keys)
    >>> b = order[stratified_sample(labels[order], 120, None, keys=keys[order])]
    >>> bool((np.sort(b) == a).all())
    True
    """
    n = labels.size
    if n <= cap:
        return np.arange(n)
    classes, counts = np.unique(labels, return_counts=True)
    floor = np.minimum(counts, min(min_per_class, cap // len(classes)))
    want = np.maximum(floor, np.floor(counts / n * cap).astype(int))
    excess = int(want.sum()) - cap
    if excess > 0:
        above = want - floor  # excess <= above.sum(): the floors fit in the cap
        want -= np.ceil(above * excess / above.sum()).astype(int)
    idx = []
    for c, w, cnt in zip(classes, want, counts, strict=True):
        members, m = np.flatnonzero(labels == c), int(min(w, cnt))
        if keys is None:
            if rng is None:
                msg = "stratified_sample needs rng or keys."
                raise ValueError(msg)
            idx.append(rng.choice(members, m, replace=False))
        else:
            idx.append(members[np.argsort(keys[members], kind="stable")[:m]])
    return np.sort(np.concatenate(idx))


@dataclass
class SurrogateResult:
    """A fitted surrogate and its held-out fidelity."""

    model: Any
    classes: np.ndarray
    fidelity: float  # held-out accuracy
    macro_f1: float
    per_segment_f1: dict[int, float]
    n_train: int
    n_holdout: int
    rows: np.ndarray  # indices (into the rows given) of the sample used
    holdout: np.ndarray  # boolean over ``rows``: held out from training


def fit_surrogate(
    X: np.ndarray,
    labels: np.ndarray,
    categorical: list[int],
    *,
    max_rows: int = 50_000,
    holdout: float = 0.25,
    n_estimators: int = 150,
    num_leaves: int = 15,
    n_jobs: int | None = None,
    random_state: Any = None,
) -> SurrogateResult:
    """Fit LightGBM on (a stratified sample of) the labelled customers.

    Parameters
    ----------
    X : ndarray
        Raw feature values (categoricals as integer codes, NaN for missing).
    labels : ndarray
        Segment labels ``0..k-1`` (noise rows must be removed by the caller).
    categorical : list of int
        Column indices of categorical features.
    max_rows : int
        Rows used (train + hold-out), sampled by segment.
    holdout : float
        Share of the sample held out to measure fidelity.

    Returns
    -------
    SurrogateResult
    """
    import lightgbm as lgb

    rng = check_random_state(random_state)
    idx = stratified_sample(labels, max_rows, rng)
    Xs, ys = X[idx], labels[idx]
    test = np.zeros(len(ys), dtype=bool)
    for c in np.unique(ys):
        members = np.flatnonzero(ys == c)
        n_test = max(1, round(holdout * members.size)) if members.size > 1 else 0
        test[rng.choice(members, n_test, replace=False)] = True
    classes = np.unique(ys)
    model = lgb.LGBMClassifier(
        n_estimators=n_estimators,
        num_leaves=num_leaves,
        learning_rate=0.1,
        min_child_samples=10,
        subsample=1.0,
        colsample_bytree=1.0,
        n_jobs=resolve_n_jobs(n_jobs),
        random_state=int(rng.randint(2**31 - 1)),
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # lightgbm's categorical notices
        model.fit(
            Xs[~test],
            ys[~test],
            categorical_feature=categorical if categorical else "auto",
        )
    pred = model.predict(Xs[test])
    truth = ys[test]
    f1 = f1_score(truth, pred, labels=classes, average=None, zero_division=0.0)
    return SurrogateResult(
        model=model,
        classes=classes,
        fidelity=float((pred == truth).mean()),
        macro_f1=float(np.mean(f1)),
        per_segment_f1={int(c): float(v) for c, v in zip(classes, f1, strict=True)},
        n_train=int((~test).sum()),
        n_holdout=int(test.sum()),
        rows=idx,
        holdout=test,
    )


def shap_values(result: SurrogateResult, X: np.ndarray) -> np.ndarray:
    """SHAP values of the surrogate, shape ``(rows, features, segments)``.

    LightGBM's own TreeSHAP (``pred_contrib=True``): the values
    ``shap.TreeExplainer(model).shap_values(X)`` gives, bit for bit (checked in
    the tests), without importing shap (seconds of a short job's start). With two
    segments the second is the first negated, as shap reports the positive class.
    """
    p = X.shape[1]
    contrib = np.asarray(result.model.booster_.predict(X, pred_contrib=True))
    n_classes = len(result.classes)
    if n_classes <= 2:  # one raw score: the second class's log-odds
        pos = contrib[:, :p]
        return np.stack([-pos, pos], axis=-1)
    # Multiclass: per class its p contributions then its expected value.
    per_class = contrib.reshape(X.shape[0], n_classes, p + 1)[:, :, :p]
    return np.ascontiguousarray(per_class.transpose(0, 2, 1))
