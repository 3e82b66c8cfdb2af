"""The scikit-learn estimator contract, over every registry and the top-level parts.

Every clusterer adapter (``CLUSTERERS`` and the generic ``SklearnAdapter``), every
feature builder (``BUILDERS``), ``FeatureSet.default()``, ``Preprocessor()`` and
``Segmenter`` (with and without a FeatureSet):
``clone`` round trip, ``get_params``/``set_params``, a readable ``repr``, no
mutation of the input, and the same result for the same seed, on a small planted
table.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.cluster import AgglomerativeClustering, KMeans

import segdiscover as sd
from segdiscover.clusterers import CLUSTERERS, ClusterAdapter, SklearnAdapter
from segdiscover.exceptions import InvalidParameterError, ModelFileError
from segdiscover.features import BUILDERS, Builder, FeatureSet
from segdiscover.preprocess import Preprocessor


def _adapter(name: str) -> Callable[[], ClusterAdapter]:
    spec = CLUSTERERS[name]
    return lambda: spec.factory(
        n_clusters=3 if spec.needs_k else None, random_state=0, **spec.test_params
    )


CLUSTER_CASES: dict[str, Callable[[], ClusterAdapter]] = {
    **{f"clusterer-{name}": _adapter(name) for name in sorted(CLUSTERERS)},
    "clusterer-sklearn": lambda: SklearnAdapter(
        KMeans(n_init=1), n_clusters=3, random_state=0
    ),
}
BUILDER_CASES: dict[str, Callable[[], Builder]] = {
    f"builder-{family}": cls for family, cls in sorted(BUILDERS.items())
}
CASES: dict[str, Callable[[], BaseEstimator]] = {
    **CLUSTER_CASES,
    **BUILDER_CASES,
    "FeatureSet.default": FeatureSet.default,
    "Preprocessor": Preprocessor,
    "Segmenter": lambda: sd.Segmenter(
        clusterer="kmeans", n_segments=3, random_state=0, stability_refits=0
    ),
    "Segmenter.features": lambda: sd.Segmenter(
        features=FeatureSet.default(),
        clusterer="kmeans",
        n_segments=3,
        random_state=0,
        stability_refits=0,
    ),
}
#: Everything a repr of these objects may name, to read it back with eval.
NAMESPACE = {
    **{cls.__name__: cls for cls in BUILDERS.values()},
    **{s.factory.__name__: s.factory for s in CLUSTERERS.values()},
    "SklearnAdapter": SklearnAdapter,
    "KMeans": KMeans,
    "FeatureSet": FeatureSet,
    "Preprocessor": Preprocessor,
    "Segmenter": sd.Segmenter,
}


@pytest.fixture(scope="module")
def data() -> sd.datasets.CustomerData:
    return sd.datasets.make_customers(n_customers=300, n_segments=3, seed=0)


@pytest.fixture(scope="module")
def features(data: sd.datasets.CustomerData) -> pl.DataFrame:
    return FeatureSet.default().build(data.tables, as_of=data.as_of).frame


@pytest.fixture(scope="module")
def X(features: pl.DataFrame) -> np.ndarray:
    return Preprocessor().fit_transform(features.drop("customer_id"))


def other_value(value: Any) -> Any:
    """A value of the same kind that differs from ``value`` (a fresh object)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return value + "_other"
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value / 2
    if value is None:
        return 7
    if isinstance(value, list | tuple):
        return [other_value(v) for v in value]
    if isinstance(value, BaseEstimator):
        return clone(value)
    msg = f"no other value for {value!r}"
    raise AssertionError(msg)


def plain(value: Any) -> Any:
    """Parameters as comparable data: an estimator is its type and its parameters."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "get_params") and not isinstance(value, type):
        return (type(value).__name__, plain(value.get_params(deep=False)))
    return value


def run(est: BaseEstimator, data: sd.datasets.CustomerData, X: np.ndarray, features):
    """Fit / build / transform ``est`` on the planted table; return its result."""
    if isinstance(est, ClusterAdapter):
        est.fit(X)
        labels, conf = est.assign(X)
        return {"labels": est.labels_, "assigned": labels, "confidence": conf}
    if isinstance(est, Builder):
        est = FeatureSet([est])
    if isinstance(est, FeatureSet):
        return {"frame": est.build(data.tables, as_of=data.as_of).frame}
    if isinstance(est, sd.Segmenter):
        est.fit(data.tables, as_of=data.as_of)
        return {"labels": est.labels_, "segments": est.segments_}
    assert isinstance(est, Preprocessor)
    return {"matrix": est.fit_transform(features.drop("customer_id"))}


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], pl.DataFrame):
            if not a[k].equals(b[k]):
                return False
        elif not np.array_equal(a[k], b[k]):
            return False
    return True


# --------------------------------------------------------------------- params
@pytest.mark.parametrize("case", CASES)
def test_is_a_scikit_learn_estimator(case):
    assert isinstance(CASES[case](), BaseEstimator)


@pytest.mark.parametrize("case", CASES)
def test_clone_round_trip(case):
    est = CASES[case]()
    twin = clone(est)
    assert type(twin) is type(est)
    assert twin is not est
    assert plain(twin.get_params()) == plain(est.get_params())
    # Their deep params hold an estimator object (compared by identity).
    if case not in ("clusterer-sklearn", "Segmenter.features"):
        assert twin.get_params() == est.get_params()
        assert clone(twin).get_params() == est.get_params()


@pytest.mark.parametrize("case", CASES)
def test_constructor_stores_its_parameters_untouched(case):
    est = CASES[case]()
    shallow = est.get_params(deep=False)
    again = type(est)(**shallow)
    for name, value in again.get_params(deep=False).items():
        assert value is shallow[name], name
    assert plain(again.get_params()) == plain(est.get_params())


@pytest.mark.parametrize("case", BUILDER_CASES)
def test_builder_rebuilds_from_its_params(case):
    b = BUILDER_CASES[case]()
    rebuilt = type(b)(**b.get_params())  # raised TypeError on time_column before
    assert rebuilt.get_params() == b.get_params()
    assert set(b.get_params()) == set(b._get_param_names())


@pytest.mark.parametrize("case", CASES)
def test_set_params_then_get_params(case):
    est = CASES[case]()
    changed = {k: other_value(v) for k, v in est.get_params(deep=False).items()}
    assert est.set_params(**changed) is est
    got = est.get_params(deep=False)
    for name, value in changed.items():
        assert got[name] is value, name
    # Parameters set one by one read back the same way.
    for name, value in CASES[case]().get_params(deep=False).items():
        fresh = CASES[case]()
        fresh.set_params(**{name: other_value(value)})
        assert plain(fresh.get_params(deep=False)[name]) == plain(other_value(value))
    with pytest.raises(ValueError, match="not_a_parameter"):
        est.set_params(not_a_parameter=1)


@pytest.mark.parametrize("case", CASES)
def test_repr_is_readable(case, data, X, features):
    est = CASES[case]()
    text = repr(est)
    assert text.startswith(type(est).__name__ + "(")
    assert "object at 0x" not in text
    back = eval(text, dict(NAMESPACE))  # our own repr, read back
    assert plain(back.get_params()) == plain(est.get_params())
    defaults = {
        k: p.default for k, p in inspect.signature(type(est)).parameters.items()
    }
    for name, value in est.get_params(deep=False).items():
        new = other_value(value)
        if plain(new) == plain(defaults[name]):  # repr leaves defaults out
            new = other_value(new)
        changed = CASES[case]().set_params(**{name: new})
        assert f"{name}=" in repr(changed), name
    run(est, data, X, features)  # fitted: the same text
    assert repr(est) == text


def test_repr_names_what_differs_from_the_defaults():
    assert repr(FeatureSet.default()) == (
        "FeatureSet(builders=[Behavioural(), Value(), Service(), Channel(),\n"
        "                     Attributes()])"
    )
    assert repr(sd.features.Behavioural(window_days=180)) == (
        "Behavioural(window_days=180)"
    )
    assert repr(Preprocessor(fold_rho=None)) == "Preprocessor(fold_rho=None)"
    assert repr(CLUSTER_CASES["clusterer-kmeans"]()) == (
        "KMeansAdapter(n_clusters=3, n_init=1, random_state=0)"
    )


# ------------------------------------------------------------ fit and results
@pytest.mark.parametrize("case", CASES)
def test_no_mutation_of_the_input(case, data, X, features):
    est = CASES[case]()
    tables = {k: v.clone() for k, v in data.tables.items()}
    X_before, features_before = X.copy(), features.clone()
    run(est, data, X, features)
    if isinstance(est, ClusterAdapter):
        est.assign(X)
    assert np.array_equal(X, X_before)
    assert features.equals(features_before)
    assert data.tables.keys() == tables.keys()
    for name, frame in tables.items():
        assert data.tables[name].equals(frame), name


@pytest.mark.parametrize("case", ["FeatureSet.default", *BUILDER_CASES])
def test_pandas_tables_are_not_mutated(case, data):
    est = CASES[case]()
    fs = est if isinstance(est, FeatureSet) else FeatureSet([est])
    tables = {k: v.to_pandas() for k, v in data.tables.items()}
    before = {k: v.copy(deep=True) for k, v in tables.items()}
    built = fs.build(tables, as_of=data.as_of).frame
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, before[name])
    assert built.equals(fs.build(data.tables, as_of=data.as_of).frame)


@pytest.mark.parametrize("case", CASES)
def test_same_seed_same_result(case, data, X, features):
    first = run(CASES[case](), data, X, features)
    assert same(first, run(CASES[case](), data, X, features))
    fitted = CASES[case]()
    run(fitted, data, X, features)
    # A clone of a fitted object is unfitted and, refitted, gives the same result.
    assert same(first, run(clone(fitted), data, X, features))


@pytest.mark.parametrize("case", CASES)
def test_fit_state_ends_in_underscore(case, data, X, features):
    est = CASES[case]()
    params = set(est.get_params(deep=False))
    before = dict(vars(est))
    run(est, data, X, features)
    added = set(vars(est)) - set(before)
    assert all(name.endswith("_") for name in added), sorted(added)
    for name in params:  # parameters are not rewritten by fitting
        assert vars(est)[name] is before[name], name
    assert not [k for k in vars(clone(est)) if k.endswith("_")]


def test_clusterer_results_follow_the_planted_segments(data, X, features):
    # The planted table has three segments; k-means recovers them, so the
    # determinism checks above compare real partitions, not one big segment.
    from sklearn.metrics import adjusted_rand_score

    labels = run(CASES["clusterer-kmeans"](), data, X, features)["labels"]
    truth = data.truth.sort("customer_id").get_column("segment").to_numpy()
    assert features.get_column("customer_id").to_list() == sorted(
        data.truth.get_column("customer_id").to_list()
    )
    assert adjusted_rand_score(truth, labels) > 0.5


# ------------------------------------------------------------- feature sets
def test_feature_set_deep_params_are_plain_data():
    fs = FeatureSet.default(id="cid", window_days=180)
    deep = fs.get_params()
    assert json.loads(json.dumps(deep)) == json.loads(json.dumps(deep))
    assert [b["type"] for b in deep["builders"]] == [
        type(b).__name__ for b in fs.builders
    ]
    assert deep["builders"][0]["window_days"] == 180
    # Rebuilt from the plain data as a saved model is, it has the same parameters.
    classes = {cls.__name__: cls for cls in BUILDERS.values()}
    builders = [
        classes[p["type"]](**{k: v for k, v in p.items() if k != "type"})
        for p in deep["builders"]
    ]
    shallow = {k: v for k, v in deep.items() if k != "builders"}
    assert FeatureSet(builders, **shallow).get_params() == deep
    assert fs.get_params(deep=False)["builders"] is fs.builders


def test_time_column_follows_set_params(data):
    renamed = {
        **data.tables,
        "orders": data.tables["orders"].rename({"ts": "order_time"}),
    }
    b = sd.features.Behavioural()
    b.set_params(ts="order_time")
    assert b.time_columns() == {"_t": "order_time"}
    got = FeatureSet([b]).build(renamed, as_of=data.as_of).frame
    want = FeatureSet([sd.features.Behavioural()]).build(data.tables, data.as_of)
    assert got.equals(want.frame)
    s = sd.features.Service().set_params(opened="start")
    assert s.time_columns()["_t"] == "start"


def test_attribute_columns_parameter(data):
    a = sd.features.Attributes(columns=["industry"])
    assert a.columns == ["industry"]
    assert a.input_columns() == ["customer_id", "industry"]
    built = FeatureSet([a]).build(data.tables, as_of=data.as_of).frame
    assert built.columns == ["customer_id", "industry"]


def test_feature_set_refuses_builders_that_are_not_builders(data):
    with pytest.raises(InvalidParameterError, match="position 1"):
        FeatureSet([sd.features.Value(), "orders"]).build(data.tables, data.as_of)
    fs = FeatureSet.default().set_params(builders=sd.features.Value())
    with pytest.raises(InvalidParameterError, match="list of feature builders"):
        fs.build(data.tables, data.as_of)


# -------------------------------------------------------- generic adapter
@pytest.mark.parametrize(
    ("estimator", "native"),
    [(KMeans(n_init=1), True), (AgglomerativeClustering(), False)],
    ids=["with-predict", "without-predict"],
)
def test_generic_adapter_reads_prediction_from_the_estimator(estimator, native, X):
    a = SklearnAdapter(estimator, n_clusters=3, random_state=0)
    assert a.native_assign is native
    assert "native_assign" not in vars(a)
    a.fit(X)
    assert a.native_assign is native
    labels, _ = a.assign(X)
    assert (labels == a.labels_).mean() >= 0.95
    assert clone(a).get_params(deep=False)["estimator"] is not estimator


def test_generic_adapter_is_restored_without_a_predictor(X):
    a = SklearnAdapter(AgglomerativeClustering(), n_clusters=3).fit(X)
    back = SklearnAdapter.from_arrays(a.saved_params(), a.to_arrays())
    assert back.native_assign is False
    assert np.array_equal(back.assign(X)[0], a.assign(X)[0])
    with pytest.raises(ModelFileError, match="k-NN reference"):
        SklearnAdapter.from_arrays(a.saved_params(), a.to_arrays(), native_assign=True)


@pytest.mark.parametrize("name", sorted(CLUSTERERS))
def test_saved_params_are_the_constructor_params(name, X):
    a = _adapter(name)()
    assert a.saved_params() == a.get_params(deep=False)
    a.set_params(random_state=np.random.RandomState(0)).fit(X)
    assert a.saved_params()["random_state"] is None  # a generator is not saved
    back = type(a).from_arrays(a.saved_params(), a.to_arrays())
    assert np.array_equal(back.assign(X)[0], a.assign(X)[0])


# --------------------------------------------------------------- Segmenter
def test_segmenter_with_a_feature_set_clones():
    seg = sd.Segmenter(features=FeatureSet.default(), random_state=0)
    twin = clone(seg)
    assert type(twin) is sd.Segmenter
    assert twin.features is not seg.features
    assert twin.features.get_params() == seg.features.get_params()
    rest = {k: v for k, v in seg.get_params().items() if k != "features"}
    assert {k: v for k, v in twin.get_params().items() if k != "features"} == rest
    est = KMeans(n_init=1)
    other = clone(sd.Segmenter(clusterer=est))
    assert plain(other.get_params(deep=False)["clusterer"]) == plain(est)


def test_describe_lists_every_registered_clusterer_with_its_capabilities(monkeypatch):
    from segdiscover.clusterers import ClustererSpec, describe

    mine = ClustererSpec("mine", CLUSTERERS["kmeans"].factory, soft=True, in_auto=False)
    monkeypatch.setitem(CLUSTERERS, "mine", mine)
    table = describe()
    assert table["name"].to_list() == list(CLUSTERERS)
    row = table.filter(table["name"] == "mine").row(0, named=True)
    assert row["soft"]
    assert not row["in_auto"]
    assert row["needs_k"]
    for name, spec in CLUSTERERS.items():
        got = table.filter(table["name"] == name).row(0, named=True)
        assert got["max_fit_rows"] == spec.max_fit_rows
        assert got["native_assign"] == spec.native_assign
