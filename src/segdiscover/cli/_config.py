"""``segdiscover discover --config FILE``: a run's options in a TOML file.

An ETL job keeps its segmentation settings (which tables, which columns the feature
builders read, outcomes, thresholds) in one reviewed file instead of a long command
line. Keys are the long options of ``discover`` (dashes or underscores); an option
given on the command line wins over the file. Relative paths are read from the
config file's folder, so a job can run from anywhere.

Example::

    # segdiscover.toml
    as_of = "2025-07-01"
    out = "segments"
    outcomes = "outcomes.parquet"      # customer-level: id + outcome columns
    k = 0                              # 0 or absent: choose the number
    [tables]
    orders = "orders.parquet"
    tickets = "tickets.parquet"
    customers = "customers.parquet"
    [min_difference]
    churned = "3pp"
    [gates]                            # quality gates: a failure exits 3
    min_fidelity = 0.9
    require_stable = true
    [features]                         # FeatureSet.default options
    window_days = 365
    [features.behavioural]             # one builder's parameters (column names)
    ts = "order_time"
    amount = "net_value"
"""

from __future__ import annotations

import datetime as dt
import inspect
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from segdiscover.exceptions import InputError
from segdiscover.features import BUILDERS, FeatureSet

#: Top-level keys and the types their values may have.
KEYS: dict[str, tuple[type, ...]] = {
    "table": (str,),
    "tables": (dict,),
    "id": (str,),
    "as_of": (str, dt.date, dt.datetime),
    "outcome": (str, list),
    "outcomes": (str,),
    "min_difference": (dict,),
    "exclude": (str, list),
    "clusterer": (str,),
    "k": (int,),
    "seed": (int,),
    "out": (str,),
    "runs": (str,),
    "run_label": (str,),
    "row_ids": (bool,),
    "features": (dict,),
    "gates": (dict,),
}
#: Keys that name files, resolved against the config file's folder.
_PATHS = ("table", "outcomes", "out", "runs")
#: Options of ``[features]`` itself (the rest are builder sections).
_DEFAULT_OPTIONS = ("window_days", "recent_days")


def load_config(path: str | Path) -> dict[str, Any]:
    r"""Read and check a ``discover`` config file.

    Parameters
    ----------
    path : str or Path
        A TOML file.

    Returns
    -------
    dict
        The options, keys with underscores, paths made absolute.

    Raises
    ------
    InputError
        The file is missing or not TOML, or a key or value is not one ``discover``
        takes (the message names it).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "job.toml").write_text('table = "c.csv"\nid = "cust"\nk = 4\n')
    >>> cfg = load_config(d / "job.toml")
    >>> cfg["k"], cfg["table"] == str(d / "c.csv")
    (4, True)
    """
    p = Path(path)
    if not p.is_file():
        msg = f"No such config file: {str(path)!r}."
        raise InputError(msg)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"The config file {str(path)!r} is not valid TOML: {exc}."
        raise InputError(msg) from exc
    base = p.resolve().parent
    out: dict[str, Any] = {}
    for key, value in raw.items():
        k = key.replace("-", "_")
        if k not in KEYS:
            msg = (
                f"The config file {str(path)!r} has an unknown key {key!r}; "
                f"discover takes {sorted(KEYS)}."
            )
            raise InputError(msg)
        if (isinstance(value, bool) and bool not in KEYS[k]) or not isinstance(
            value, KEYS[k]
        ):
            kinds = " or ".join(_kind(t) for t in KEYS[k])
            msg = (
                f"In the config file {str(path)!r}, {key!r} must be {kinds}; "
                f"got {value!r}."
            )
            raise InputError(msg)
        out[k] = value
    for k in ("outcome", "exclude"):
        if isinstance(out.get(k), str):
            out[k] = [out[k]]
        for item in out.get(k, ()):
            if not isinstance(item, str):
                msg = (
                    f"In the config file {str(path)!r}, {k!r} lists {item!r}, not "
                    "a column name."
                )
                raise InputError(msg)
    for k in _PATHS:
        if k in out:
            out[k] = str(base / out[k])
    if "tables" in out:
        for name, file in out["tables"].items():
            if not isinstance(file, str):
                msg = (
                    f"In the config file {str(path)!r}, [tables] {name} must be a "
                    f"file name; got {file!r}."
                )
                raise InputError(msg)
        out["tables"] = {n: str(base / f) for n, f in out["tables"].items()}
    if "min_difference" in out:
        for col, v in out["min_difference"].items():
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                msg = (
                    f"In the config file {str(path)!r}, min_difference {col} must be "
                    f"a number, '3pp' or '10%'; got {v!r}."
                )
                raise InputError(msg)
    if isinstance(out.get("as_of"), dt.date | dt.datetime):
        out["as_of"] = out["as_of"].isoformat()
    if "features" in out:
        feature_set(out["features"], "customer_id")  # fail early, naming the key
    return out


def _kind(t: type) -> str:
    return {
        str: "a string",
        dict: "a table",
        list: "a list",
        int: "an integer",
        bool: "true or false",
        dt.date: "a date",
        dt.datetime: "a date-time",
    }[t]


def feature_set(spec: Mapping[str, Any], id: str) -> FeatureSet:
    """Build the ``FeatureSet`` a config's ``[features]`` table describes.

    ``window_days`` and ``recent_days`` go to :meth:`FeatureSet.default`; a sub-table
    named after a builder family (``behavioural``, ``value``, ``service``,
    ``channel``, ``attribute``) sets that builder's parameters, e.g. the columns it
    reads; ``<family> = false`` leaves the family out.

    Examples
    --------
    >>> fs = feature_set({"behavioural": {"ts": "order_time"}, "service": False}, "id")
    >>> [type(b).__name__ for b in fs.builders]
    ['Behavioural', 'Value', 'Channel', 'Attributes']
    >>> fs.builders[0].ts, fs.builders[0].id
    ('order_time', 'id')
    """
    unknown = set(spec) - set(_DEFAULT_OPTIONS) - set(BUILDERS)
    if unknown:
        msg = (
            f"[features] has unknown key(s) {sorted(unknown)}; it takes "
            f"{list(_DEFAULT_OPTIONS)} and one table per builder: {sorted(BUILDERS)}."
        )
        raise InputError(msg)
    options = {k: spec[k] for k in _DEFAULT_OPTIONS if k in spec}
    for k, v in options.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            msg = f"[features] {k} must be a positive whole number of days; got {v!r}."
            raise InputError(msg)
    default = FeatureSet.default(id=id, **options)
    builders = []
    for family, cls in BUILDERS.items():
        section = spec.get(family, True)
        current = next(b for b in default.builders if isinstance(b, cls))
        if section is False:
            continue
        if section is True:
            builders.append(current)
            continue
        if not isinstance(section, dict):
            msg = (
                f"[features] {family} must be a table of the builder's parameters "
                f"or false; got {section!r}."
            )
            raise InputError(msg)
        names = set(inspect.signature(cls.__init__).parameters) - {"self", "id"}
        bad = set(section) - names
        if bad:
            msg = (
                f"[features.{family}] has unknown key(s) {sorted(bad)}; "
                f"{cls.__name__} takes {sorted(names)}."
            )
            raise InputError(msg)
        params = {k: v for k, v in current.get_params().items() if k in names}
        params.update(section)
        try:
            builders.append(cls(id=id, **params))
        except (TypeError, ValueError) as exc:
            msg = f"[features.{family}] is not valid: {exc}."
            raise InputError(msg) from exc
    if not builders:
        msg = "[features] leaves out every builder; keep at least one family."
        raise InputError(msg)
    # Tenure reads the signup column of the customers table the attributes use.
    attrs = spec.get("attribute")
    kw: dict[str, Any] = {}
    if isinstance(attrs, dict):
        kw = {
            k2: attrs[k1]
            for k1, k2 in (("table", "customers_table"), ("signup", "signup"))
            if k1 in attrs
        }
    return FeatureSet(builders, id=id, **kw)
