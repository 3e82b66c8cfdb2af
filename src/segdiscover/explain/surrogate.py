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
    labels: np.ndarray, cap: int, rng: np.random.RandomState, min_per_class: int = 50
) -> np.ndarray:
    """Sorted row indices: at most ``cap`` rows, every class represented.

    Each class gets a share proportional to its size but at least
    ``min(size, min_per_class, cap // classes)`` rows, so small segments are still
    explained; when those floors push the total past ``cap``, the classes above
    their floor give back the excess in proportion.

    Examples
    --------
    By hand: floors min(100, 50, 120 // 4) = 30; shares 84, 12, 12, 12 give
    84, 30, 30, 30 = 174 rows, so class 0 (54 above its floor) gives back 54.

    >>> labels = np.repeat([0, 1, 2, 3], [700, 100, 100, 100])
    >>> rows = stratified_sample(labels, 120, np.random.RandomState(0))
    >>> len(rows), np.bincount(labels[rows]).tolist()
    (120, [30, 30, 30, 30])
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
    idx = [
        rng.choice(np.flatnonzero(labels == c), int(min(w, cnt)), replace=False)
        for c, w, cnt in zip(classes, want, counts, strict=True)
    ]
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
    """SHAP values of the surrogate, shape ``(rows, features, segments)``."""
    with warnings.catch_warnings():
        # shap's import warns (numba, tqdm, matplotlib colormaps): not the user's issue.
        warnings.simplefilter("ignore")
        import shap

        explainer = shap.TreeExplainer(result.model)
        sv = explainer.shap_values(X)
    sv = np.asarray(sv)
    if sv.ndim == 2:  # two segments: shap returns the positive class only
        sv = np.stack([-sv, sv], axis=-1)
    if (
        sv.shape[0] != X.shape[0] and sv.shape[-1] == X.shape[0]
    ):  # list-of-classes layout
        sv = np.moveaxis(sv, 0, -1)
    return sv
