"""Strategies: the declared combinations a benchmark compares.

A strategy names a clusterer (``"auto"``, a registry name, a user's estimator or a
``"module:Class"`` path), a rule for the number of segments (a number, ``"auto"``,
``"true"`` for the dataset's reference k, or a callable), a guide (``Segmenter``'s
``guide``), a pipeline and preprocessing options. It is declared in Python
(:class:`Strategy`) or in a TOML file (:func:`load_strategies`); every value is
checked when the strategy is made, and a bad one raises
:class:`~segdiscover.exceptions.InputError` naming the key.

This module imports nothing heavy: the command line builds strategies before it
knows whether it will run anything.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segdiscover.exceptions import InputError

#: ``segmenter``: the whole ``Segmenter`` (explanations, stability, outcomes);
#: ``clusterer``: the bare clusterer on a preprocessed matrix (the plain baselines
#: and the published protocol).
PIPELINES = ("segmenter", "clusterer")
GUIDES = ("none", "auto", "outcomes")
#: How the ``clusterer`` pipeline turns a table into a matrix: segdiscover's
#: ``Preprocessor``, per-column z-scores, or the clustering benchmark suite's own
#: preprocessing (see :func:`segdiscover.bench.protocol_matrix`).
SCALES = ("segdiscover", "standard", "clustbench")
#: Table transforms applied before either pipeline.
TABLE_OPTIONS = ("log1p", "rank", "exclude")
#: ``Preprocessor`` parameters (``clusterer`` pipeline with ``scale="segdiscover"``).
PREPROCESSOR_OPTIONS = ("clip", "max_levels", "min_level_share", "fold_rho")
#: ``params`` of the ``clusterer`` pipeline.
CLUSTERER_PIPELINE_PARAMS = ("stability_refits", "k_range", "full_fit")
#: ``Segmenter`` parameters a strategy sets through its own fields.
OWN_SEGMENTER_PARAMS = (
    "features",
    "clusterer",
    "n_segments",
    "guide",
    "random_state",
    "n_jobs",
    "id",
)
FIELDS = (
    "clusterer",
    "k",
    "guide",
    "pipeline",
    "preprocess",
    "features",
    "clusterer_params",
    "params",
    "reference",
    "description",
)


def resolve_path(spec: str, where: str) -> Any:
    """Import ``"module:attribute"`` (dots allowed in both parts).

    The current folder is searched after ``sys.path``, as ``python -m`` would, so
    ``segdiscover bench --strategy my_module:MyClusterer`` finds ``my_module.py``
    beside the user.

    Examples
    --------
    >>> resolve_path("collections:OrderedDict", "clusterer").__name__
    'OrderedDict'
    """
    module, _, attr = spec.partition(":")
    if not module or not attr:
        msg = f"{where} {spec!r} is not of the form 'module:Name'."
        raise InputError(msg)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as exc:
        msg = f"{where} {spec!r}: cannot import module {module!r} ({exc})."
        raise InputError(msg) from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            msg = f"{where} {spec!r}: module {module!r} has no attribute {attr!r}."
            raise InputError(msg)
        obj = getattr(obj, part)
    return obj


def _source_hash(obj: Any) -> str:
    """Hash of the file that defines ``obj`` (so an edited estimator re-runs)."""
    try:
        path = inspect.getsourcefile(obj if inspect.isclass(obj) else type(obj))
        if path is None and callable(obj):
            path = inspect.getsourcefile(obj)
    except TypeError:
        path = None
    if not path or not Path(path).is_file():
        return ""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]


def describe_object(obj: Any) -> Any:
    """Plain data that identifies a value of a strategy field (for the cache key)."""
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): describe_object(v) for k, v in sorted(obj.items())}
    if isinstance(obj, list | tuple):
        return [describe_object(v) for v in obj]
    kind = obj if inspect.isclass(obj) or inspect.isfunction(obj) else type(obj)
    out: dict[str, Any] = {
        "type": f"{kind.__module__}.{kind.__qualname__}",
        "source": _source_hash(obj),
    }
    get_params = getattr(obj, "get_params", None)
    if callable(get_params) and not inspect.isclass(obj):
        try:
            out["params"] = repr(sorted(get_params(deep=True).items(), key=str))
        except TypeError:
            out["params"] = repr(sorted(get_params().items(), key=str))
    return out


@dataclass(frozen=True, eq=False)
class Strategy:
    """One way to segment, declared so that a benchmark can run and cache it.

    Parameters
    ----------
    name : str
        Label in the results table and the leaderboard.
    clusterer : str or estimator, default "auto"
        ``"auto"`` (the ``Segmenter``'s sweep, or :func:`segdiscover.selection.sweep`
        in the ``clusterer`` pipeline), a name in
        ``segdiscover.clusterers.CLUSTERERS``, a ``"module:Class"`` path, or a
        scikit-learn-style estimator object.
    k : int, "auto", "true" or callable, default "auto"
        Number of segments: fixed; chosen by the sweep; the dataset's reference k
        (every distinct reference k is fitted and the best score kept, the
        published convention; not applicable without a reference); or a callable
        that gets the sweep's candidate table (``Segmenter.candidates_``) and
        returns ``k`` or ``(clusterer, k)``. In TOML a callable is
        ``"module:function"``.
    guide : {"none", "auto", "outcomes"}, default "none"
        ``Segmenter(guide=...)``; ``"outcomes"`` is not applicable to a dataset
        without outcomes.
    pipeline : {"segmenter", "clusterer"}, default "segmenter"
        The whole ``Segmenter``, or the bare clusterer on a preprocessed matrix
        (no explanation; the plain baselines and the published protocol).
    preprocess : dict, optional
        ``log1p`` (bool: sign-preserving log of numeric columns), ``rank`` (bool:
        numeric columns replaced by their rank share, robust to heavy tails),
        ``exclude`` (columns left out), applied to the customer table before either
        pipeline; and for the ``clusterer`` pipeline ``scale`` (one of
        :data:`SCALES`, default ``"segdiscover"``) and ``Preprocessor`` parameters
        (``clip``, ``max_levels``, ``min_level_share``, ``fold_rho``).
    features : FeatureSet, optional
        Builders for datasets of raw tables (default ``FeatureSet.default()``).
    clusterer_params : dict, optional
        Parameters of the registry adapter or of the ``"module:Class"`` class.
    params : dict, optional
        Further ``Segmenter`` parameters (e.g. ``stability_refits``,
        ``n_bootstrap``, ``k_range``); in the ``clusterer`` pipeline only
        ``stability_refits`` (default 10), ``k_range`` (default ``[2, 10]``) and
        ``full_fit`` (fit every row even above the clusterer's ``max_fit_rows``).
    reference : str, optional
        The published method this strategy reproduces (a ``method`` of the
        published scores, e.g. ``"fastcluster_ward"``).
    description : str, optional

    Examples
    --------
    >>> s = Strategy("kmeans at the true k", clusterer="kmeans", k="true")
    >>> s.pipeline, s.needs_truth
    ('segmenter', True)
    >>> Strategy("x", guide="sometimes")
    Traceback (most recent call last):
    ...
    segdiscover.exceptions.InputError: Strategy 'x': guide must be one of 'none', \
'auto', 'outcomes'; got 'sometimes'.
    """

    name: str
    clusterer: Any = "auto"
    k: int | str | Callable[..., Any] = "auto"
    guide: str = "none"
    pipeline: str = "segmenter"
    preprocess: Mapping[str, Any] = field(default_factory=dict)
    features: Any = None
    clusterer_params: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    reference: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        self._check()

    # ------------------------------------------------------------ checks
    def _fail(self, what: str) -> None:
        msg = f"Strategy {self.name!r}: {what}"
        raise InputError(msg)

    def _check(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            msg = f"A strategy needs a non-empty name; got {self.name!r}."
            raise InputError(msg)
        if self.pipeline not in PIPELINES:
            self._fail(
                f"pipeline must be one of {_options(PIPELINES)}; got {self.pipeline!r}."
            )
        if self.guide not in GUIDES:
            self._fail(f"guide must be one of {_options(GUIDES)}; got {self.guide!r}.")
        if self.pipeline == "clusterer" and self.guide != "none":
            self._fail(
                "guide needs pipeline 'segmenter' (the bare clusterer sees no "
                "outcomes)."
            )
        self._check_k()
        self._check_clusterer()
        self._check_preprocess()
        self._check_params()
        if self.features is not None:
            from segdiscover.features import FeatureSet

            if not isinstance(self.features, FeatureSet):
                self._fail(
                    f"features must be a FeatureSet; got "
                    f"{type(self.features).__name__}."
                )
        if self.reference is not None and not isinstance(self.reference, str):
            self._fail(
                f"reference must be a published method name; got {self.reference!r}."
            )

    def _check_k(self) -> None:
        k = self.k
        if isinstance(k, bool) or not (
            (isinstance(k, int) and 2 <= k <= 50)
            or k in ("auto", "true")
            or callable(k)
        ):
            self._fail(
                f"k must be an int in [2, 50], 'auto', 'true' or a callable; got {k!r}."
            )

    def _check_clusterer(self) -> None:
        c = self.clusterer
        if isinstance(c, str) and ":" not in c:
            from segdiscover.clusterers import CLUSTERERS

            if c != "auto" and c not in CLUSTERERS:
                self._fail(
                    f"clusterer {c!r} is not registered; use 'auto', one of "
                    f"{_options(tuple(CLUSTERERS))}, 'module:Class' or an "
                    "estimator."
                )
            if c == "auto" and self.clusterer_params:
                self._fail("clusterer_params need a named clusterer, not 'auto'.")
            return
        if isinstance(c, str):
            c = resolve_path(c, f"Strategy {self.name!r}: clusterer")
        if not isinstance(c, type) and self.clusterer_params:
            self._fail(
                "clusterer_params need a class ('module:Class'), not an "
                "estimator object."
            )
        est = c
        if isinstance(c, type):
            try:
                est = c(**self.clusterer_params)
            except TypeError as exc:
                self._fail(f"clusterer_params do not fit {c.__name__}: {exc}.")
        missing = [
            m for m in ("fit", "get_params") if not callable(getattr(est, m, None))
        ]
        if missing:
            self._fail(
                f"clusterer {type(est).__name__} lacks {', '.join(missing)}; "
                "pass a scikit-learn-style estimator or a registry name."
            )

    def _check_preprocess(self) -> None:
        p = dict(self.preprocess)
        allowed = set(TABLE_OPTIONS)
        if self.pipeline == "clusterer":
            allowed |= {"scale", *PREPROCESSOR_OPTIONS}
        unknown = sorted(set(p) - allowed)
        if unknown:
            hint = (
                " (Preprocessor options need pipeline 'clusterer': the Segmenter "
                "builds its own Preprocessor)"
                if set(unknown) & {"scale", *PREPROCESSOR_OPTIONS}
                else ""
            )
            self._fail(
                f"preprocess has unknown key(s) {unknown}; it takes "
                f"{sorted(allowed)}{hint}."
            )
        for key in ("log1p", "rank"):
            if key in p and not isinstance(p[key], bool):
                self._fail(f"preprocess.{key} must be true or false; got {p[key]!r}.")
        if "exclude" in p and not (
            isinstance(p["exclude"], list | tuple)
            and all(isinstance(c, str) for c in p["exclude"])
        ):
            self._fail(
                f"preprocess.exclude must be a list of column names; got "
                f"{p['exclude']!r}."
            )
        if p.get("scale", "segdiscover") not in SCALES:
            self._fail(
                f"preprocess.scale must be one of {_options(SCALES)}; got "
                f"{p['scale']!r}."
            )
        opts = {k: p[k] for k in PREPROCESSOR_OPTIONS if k in p}
        if opts and p.get("scale", "segdiscover") != "segdiscover":
            self._fail(
                f"preprocess {sorted(opts)} apply only with scale 'segdiscover'."
            )
        if opts:
            from segdiscover._params import validate_params
            from segdiscover.preprocess import Preprocessor

            try:
                validate_params(
                    "Preprocessor", opts, Preprocessor._parameter_constraints
                )
            except InputError:
                raise
            except ValueError as exc:
                self._fail(f"preprocess: {exc}")

    def _check_params(self) -> None:
        p = dict(self.params)
        if self.pipeline == "clusterer":
            unknown = sorted(set(p) - set(CLUSTERER_PIPELINE_PARAMS))
            if unknown:
                self._fail(
                    f"params has unknown key(s) {unknown} for pipeline "
                    f"'clusterer'; it takes {list(CLUSTERER_PIPELINE_PARAMS)}."
                )
            refits = p.get("stability_refits", 10)
            if isinstance(refits, bool) or not isinstance(refits, int) or refits < 0:
                self._fail(
                    f"params.stability_refits must be an int >= 0; got {refits!r}."
                )
            if "full_fit" in p and not isinstance(p["full_fit"], bool):
                self._fail(
                    f"params.full_fit must be true or false; got {p['full_fit']!r}."
                )
            kr = p.get("k_range", (2, 10))
            if not (
                isinstance(kr, list | tuple)
                and len(kr) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in kr)
                and 2 <= kr[0] <= kr[1] <= 50
            ):
                self._fail(
                    f"params.k_range must be [low, high] with 2 <= low <= "
                    f"high <= 50; got {kr!r}."
                )
            return
        own = sorted(set(p) & set(OWN_SEGMENTER_PARAMS))
        if own:
            self._fail(
                f"params {own} are set by the strategy's own fields "
                "(clusterer, k, guide, features) or by the run (seed, jobs)."
            )
        from segdiscover.segmenter import Segmenter

        names = set(Segmenter._parameter_constraints)
        unknown = sorted(set(p) - names)
        if unknown:
            self._fail(
                f"params has unknown key(s) {unknown}; Segmenter takes "
                f"{sorted(names - set(OWN_SEGMENTER_PARAMS))}."
            )

    # ------------------------------------------------------------ reading
    @property
    def needs_truth(self) -> bool:
        """Whether the strategy asks for the dataset's reference k."""
        return self.k == "true"

    @property
    def needs_outcomes(self) -> bool:
        """Whether the strategy builds segments from outcomes."""
        return self.guide == "outcomes"

    def estimator(self) -> Any:
        """Return the user's estimator (a new one for a class), or None for names."""
        c = self.clusterer
        if isinstance(c, str) and ":" not in c:
            return None
        if isinstance(c, str):
            c = resolve_path(c, f"Strategy {self.name!r}: clusterer")
        return c(**self.clusterer_params) if isinstance(c, type) else c

    def fingerprint(self) -> str:
        """Plain JSON identifying what the strategy computes (part of the cache key)."""
        features = None
        if self.features is not None:
            features = repr(self.features.get_params(deep=True))
        return json.dumps(
            {
                "name": self.name,
                "clusterer": describe_object(self.clusterer),
                "k": describe_object(self.k),
                "guide": self.guide,
                "pipeline": self.pipeline,
                "preprocess": describe_object(dict(self.preprocess)),
                "features": features,
                "clusterer_params": describe_object(dict(self.clusterer_params)),
                "params": describe_object(dict(self.params)),
                "reference": self.reference,
            },
            sort_keys=True,
            default=str,
        )

    def summary(self) -> str:
        """One line saying what the strategy is, for the leaderboard."""
        c = self.clusterer
        name = (
            c
            if isinstance(c, str)
            else getattr(c, "__name__", None) or type(c).__name__
        )
        k = self.k if not callable(self.k) else getattr(self.k, "__name__", "rule")
        parts = [f"{name}", f"k={k}", self.pipeline]
        if self.guide != "none":
            parts.append(f"guide={self.guide}")
        if self.preprocess:
            parts.append(
                "preprocess "
                + ", ".join(f"{a}={b}" for a, b in self.preprocess.items())
            )
        if self.clusterer_params:
            parts.append(
                ", ".join(f"{a}={b}" for a, b in self.clusterer_params.items())
            )
        return "; ".join(parts)

    @classmethod
    def from_spec(cls, spec: str) -> Strategy:
        """Build a strategy from a command-line ``SPEC[@K]``.

        ``SPEC`` is ``auto``, a registry name or ``module:Class``; ``K`` is a
        number, ``auto`` or ``true``. Without ``@K``: ``auto`` for ``auto``, else
        ``true`` (the dataset's reference k).

        Examples
        --------
        >>> s = Strategy.from_spec("gmm@5")
        >>> s.name, s.clusterer, s.k
        ('gmm@5', 'gmm', 5)
        >>> Strategy.from_spec("kmeans").k
        'true'
        """
        clusterer, _, k_text = spec.strip().partition("@")
        if not clusterer:
            msg = f"--strategy {spec!r} names no clusterer."
            raise InputError(msg)
        k: Any
        if not k_text:
            k = "auto" if clusterer == "auto" else "true"
        elif k_text.isdigit():
            k = int(k_text)
        else:
            k = k_text
        return cls(name=spec.strip(), clusterer=clusterer, k=k)


def _options(values: tuple[str, ...]) -> str:
    return ", ".join(repr(v) for v in values)


def strategy_from_mapping(name: str, table: Mapping[str, Any], where: str) -> Strategy:
    """Build one strategy from a TOML table; errors name ``where`` and the key."""
    unknown = sorted(set(table) - set(FIELDS))
    if unknown:
        msg = f"{where}: unknown key(s) {unknown}; a strategy takes {sorted(FIELDS)}."
        raise InputError(msg)
    kw: dict[str, Any] = dict(table)
    for key in ("preprocess", "clusterer_params", "params", "features"):
        if key in kw and not isinstance(kw[key], dict):
            msg = f"{where}.{key} must be a table; got {kw[key]!r}."
            raise InputError(msg)
    if isinstance(kw.get("k"), str) and ":" in kw["k"]:
        kw["k"] = resolve_path(kw["k"], f"{where}.k")
    if "features" in kw:
        from segdiscover.cli._config import feature_set

        try:
            kw["features"] = feature_set(kw["features"], "customer_id")
        except InputError as exc:
            msg = f"{where}.features: {exc}"
            raise InputError(msg) from exc
    try:
        return Strategy(name=name, **kw)
    except InputError as exc:
        msg = f"{where}: {exc}"
        raise InputError(msg) from exc


def load_strategies(path: str | Path) -> list[Strategy]:
    r"""Read strategies from a TOML file: one ``[strategies.NAME]`` table each.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    list of Strategy
        In the file's order.

    Raises
    ------
    InputError
        The file is missing or not TOML, or a key is unknown or has a bad value;
        the message names the file and the key.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "s.toml"
    >>> _ = f.write_text('[strategies.km]\nclusterer = "kmeans"\nk = "true"\n')
    >>> [(s.name, s.clusterer, s.k) for s in load_strategies(f)]
    [('km', 'kmeans', 'true')]
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        msg = f"Cannot read the strategy file {path}: {exc.strerror or exc}."
        raise InputError(msg) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"The strategy file {path} is not valid TOML: {exc}."
        raise InputError(msg) from exc
    unknown = sorted(set(raw) - {"strategies"})
    if unknown or not isinstance(raw.get("strategies"), dict) or not raw["strategies"]:
        msg = (
            f"{path}: expected [strategies.NAME] tables and nothing else; "
            f"found {sorted(raw) or 'no keys'}."
        )
        raise InputError(msg)
    # A module named in the file may sit beside it.
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.append(folder)
    out = []
    for name, table in raw["strategies"].items():
        where = f"{path}: [strategies.{name}]"
        if not isinstance(table, dict):
            msg = f"{where} must be a table; got {table!r}."
            raise InputError(msg)
        out.append(strategy_from_mapping(name, table, where))
    return out
