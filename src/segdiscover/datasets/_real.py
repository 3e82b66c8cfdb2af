"""Small real tables bundled with the package (licence and attribution beside them)."""

from __future__ import annotations

from importlib import resources

import polars as pl

_CHANNELS = {1: "Horeca", 2: "Retail"}
_REGIONS = {1: "Lisbon", 2: "Oporto", 3: "Other"}


def load_wholesale() -> pl.DataFrame:
    """Load the UCI Wholesale customers table: 440 real clients, one row each.

    Annual spending (monetary units) of the clients of a wholesale distributor in
    Portugal on six product categories, with their channel and region. Bundled
    unchanged (CC BY 4.0; Cardoso, M. (2014). Wholesale customers. UCI Machine
    Learning Repository. https://doi.org/10.24432/C5030X; see
    ``segdiscover/datasets/data/WHOLESALE_SOURCE.md``).

    Returns
    -------
    polars.DataFrame
        ``customer_id`` (the row number, 1-440: the file has no id), ``Channel``
        (``"Horeca"``: hotel/restaurant/café, or ``"Retail"``), ``Region``
        (``"Lisbon"``, ``"Oporto"``, ``"Other"``) and the spend columns ``Fresh``,
        ``Milk``, ``Grocery``, ``Frozen``, ``Detergents_Paper``, ``Delicassen``.
        ``Channel`` is the usual external check: segments found from the spend
        columns alone should separate it.

    Examples
    --------
    >>> t = load_wholesale()
    >>> t.shape, t["Channel"].value_counts(sort=True).rows()
    ((440, 9), [('Horeca', 298), ('Retail', 142)])
    """
    path = resources.files("segdiscover.datasets") / "data" / "wholesale_customers.csv"
    with resources.as_file(path) as p:
        raw = pl.read_csv(p)
    return raw.with_row_index("customer_id", offset=1).with_columns(
        pl.col("customer_id").cast(pl.Int64),
        pl.col("Channel").replace_strict(_CHANNELS, return_dtype=pl.String),
        pl.col("Region").replace_strict(_REGIONS, return_dtype=pl.String),
    )
