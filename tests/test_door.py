"""The door keeps data exactly: ids as text, no missing or phantom ids, Decimal and
decimal-comma numbers read as numbers, Markdown outputs that escape the data."""

from __future__ import annotations

import re
import warnings
from decimal import Decimal

import numpy as np
import polars as pl
import pytest

from segdiscover import Segmenter, load
from segdiscover._checks import align_id_dtype, check_ids, to_polars
from segdiscover._markdown import md_cell, md_text
from segdiscover._table import prepare_table
from segdiscover.cli import _outcome_table, _read_tables, main, read_table
from segdiscover.datasets import make_customers
from segdiscover.exceptions import InputError, SegdiscoverWarning
from segdiscover.features import FeatureSet
from segdiscover.profiles import SegmentProfile


@pytest.fixture(scope="module")
def data():
    return make_customers(n_customers=200, seed=0)


def padded(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The same tables with zero-padded digit ids: C00042 -> 00042."""
    return {
        k: t.with_columns(pl.col("customer_id").str.slice(1)) for k, t in tables.items()
    }


def small_table(n: int = 120, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 3, n)
    return pl.DataFrame(
        {
            "cust": [f"{i:05d}" for i in range(n)],
            "revenue": np.where(g == 0, 5000.0, 300.0) * rng.lognormal(0, 0.2, n),
            "tickets": (np.where(g == 1, 12, 1) + rng.poisson(1, n)).astype(float),
            "plan": np.where(g == 2, "enterprise", "smb"),
        }
    )


# ------------------------------------------------------------ 1. ids read as text
def test_csv_ids_are_read_as_text(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("cust,x\n00042,1\n00043,2\n")
    t = read_table(str(p), "cust")
    assert t.schema["cust"] == pl.String
    assert t["cust"].to_list() == ["00042", "00043"]
    assert t.schema["x"] == pl.Int64  # other columns still typed
    p2 = tmp_path / "t2.csv"
    p2.write_text("cust;x\n00042;1\n")
    assert read_table(str(p2), "cust")["cust"].to_list() == ["00042"]


def test_csv_raw_tables_keep_padded_ids_and_join(tmp_path, data):
    files = {}
    for name, t in padded(data.tables).items():
        files[name] = str(tmp_path / f"{name}.csv")
        t.write_csv(files[name])
    tables = _read_tables(files, "customer_id")
    assert {t.schema["customer_id"] for t in tables.values()} == {pl.String}
    built = FeatureSet.default().build(tables, as_of=data.as_of)
    assert built.frame.height == 200
    want = padded(data.tables)["customers"]["customer_id"].sort()
    assert want[0].startswith("00")
    assert built.frame["customer_id"].to_list() == want.to_list()


def test_csv_outcomes_join_a_table_of_another_id_type(tmp_path):
    p = tmp_path / "out.csv"
    p.write_text("cust,churned\n42,1\n43,0\n")
    table = pl.DataFrame({"cust": [42, 43], "x": [1.0, 2.0]})
    out = _outcome_table(str(p), "cust", None, table)
    assert out.schema["cust"] == pl.Int64
    assert out.join(table, on="cust").height == 2
    # Zero-padded text ids never silently match integers.
    p.write_text("cust,churned\n00042,1\n00043,0\n")
    with pytest.raises(InputError, match=r"'cust'.*2 of 2.*'00042'"):
        _outcome_table(str(p), "cust", None, table)
    # Integer ids joined to text ids become text.
    frame = pl.DataFrame({"cust": [1, 2]})
    assert align_id_dtype(frame, "cust", pl.String, "t").schema["cust"] == pl.String


def test_cli_discover_keeps_padded_ids(tmp_path, capsys):
    df = small_table()
    src = tmp_path / "customers.csv"
    df.write_csv(src)
    outcomes = tmp_path / "outcomes.csv"
    df.select("cust", churned=(pl.col("tickets") > 5).cast(pl.Int64)).write_csv(
        outcomes
    )
    out = tmp_path / "out"
    args = ["discover", "--table", str(src), "--id", "cust", "--k", "3"]
    args += ["--outcomes", str(outcomes), "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    a = pl.read_parquet(out / "assignments.parquet")
    assert a.schema["cust"] == pl.String
    assert sorted(a["cust"].to_list()) == df["cust"].to_list()


# ------------------------------------------------ 2. empty, null and NaN ids
@pytest.mark.parametrize(
    "ids",
    [["a", "", "c"], ["a", None, "c"], ["a", "  ", "c"], [1.0, float("nan"), 3.0]],
)
def test_missing_ids_are_refused_with_count_and_row(ids):
    t = pl.DataFrame({"id": ids, "x": [1.0, 2.0, 3.0]}, strict=False)
    with pytest.raises(InputError, match=r"1 rows with a null 'id' .*row 2,"):
        check_ids(t, "id", "table", unique=True)


def test_missing_ids_refused_in_customer_raw_and_outcome_tables(data):
    table = small_table().with_columns(
        pl.when(pl.int_range(120) == 7).then(pl.lit("")).otherwise("cust").alias("cust")
    )
    with pytest.raises(InputError, match=r"The table has 1 rows .*row 8"):
        prepare_table(table, "cust")
    orders = data.tables["orders"].with_columns(
        pl.when(pl.int_range(pl.len()) < 3)
        .then(None)
        .otherwise("customer_id")
        .alias("customer_id")
    )
    with pytest.raises(InputError, match=r"'orders' table has 3 rows .*row 1,"):
        FeatureSet.default().build({**data.tables, "orders": orders}, data.as_of)
    outcomes = pl.DataFrame({"cust": ["00001", ""], "churned": [0, 1]})
    with pytest.raises(InputError, match=r"outcomes table has 1 rows .*row 2"):
        Segmenter(id="cust").fit(small_table(), outcomes=outcomes)


@pytest.mark.parametrize("marker", ["NULL", "NaN", "None", "nan", "N/A", " NA "])
def test_null_markers_as_ids_are_refused(tmp_path, marker, capsys):
    # Read as text, these were ids: one customer "NULL" standing for every row an
    # export wrote without one.
    t = pl.DataFrame({"id": ["a", marker, "c"], "x": [1.0, 2.0, 3.0]})
    with pytest.raises(
        InputError, match=rf"1 rows with a null 'id' .*{marker!r} on row 2"
    ):
        check_ids(t, "id", "table", unique=True)
    src = tmp_path / "t.csv"
    small_table().with_columns(
        pl.when(pl.int_range(120) == 4)
        .then(pl.lit(marker))
        .otherwise("cust")
        .alias("cust")
    ).write_csv(src)
    args = ["discover", "--table", str(src), "--id", "cust", "--k", "3"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    assert "row 5" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_null_markers_in_raw_order_ids_are_refused(data):
    orders = data.tables["orders"].with_columns(
        pl.when(pl.int_range(pl.len()) % 50 == 3)
        .then(pl.lit("NULL"))
        .otherwise("customer_id")
        .alias("customer_id")
    )
    with pytest.raises(
        InputError, match=r"'orders' table has \d+ rows .*'NULL' on row 4"
    ):
        FeatureSet.default().build({**data.tables, "orders": orders}, data.as_of)


def test_ids_that_look_like_nothing_or_numbers_are_kept():
    ids = ["Nancy", "nano", "0x1F", "1e3", " 42 ", "42", "NaN2"]
    t = pl.DataFrame({"id": ids, "x": np.arange(7.0)})
    check_ids(t, "id", "table", unique=True)  # every one names a customer


# ------------------------------------------ 3. raw ids that match no customer
def test_raw_table_matching_no_customer_is_refused(data):
    orders = data.tables["orders"].with_columns(
        ("X" + pl.col("customer_id")).alias("customer_id")
    )
    with pytest.raises(InputError, match=r"None of the \d+ distinct .*'orders'.*XC"):
        FeatureSet.default().build({**data.tables, "orders": orders}, data.as_of)


def test_many_unmatched_raw_ids_warn_with_the_count(data):
    orders = data.tables["orders"]
    ids = orders["customer_id"].unique().sort()
    strays = ids.head(10)  # 10 of ~200 distinct ids: 5%
    orders = orders.with_columns(
        pl.when(pl.col("customer_id").is_in(strays.implode()))
        .then("Z" + pl.col("customer_id"))
        .otherwise("customer_id")
        .alias("customer_id")
    )
    tables = {**data.tables, "orders": orders}
    with pytest.warns(SegdiscoverWarning, match=rf"10 of the {ids.len()} distinct"):
        FeatureSet.default().build(tables, data.as_of)
    # The exact tables (every order a customer's) raise no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FeatureSet.default().build(data.tables, data.as_of)


def test_unmatched_id_examples_are_the_smallest_whatever_the_row_order(data):
    orders = data.tables["orders"]
    strays = orders["customer_id"].unique().sort().head(10)
    orders = orders.with_columns(
        pl.when(pl.col("customer_id").is_in(strays.implode()))
        .then("Z" + pl.col("customer_id"))
        .otherwise("customer_id")
        .alias("customer_id")
    )
    seen = []
    for frame in (orders, orders.reverse(), orders.sample(fraction=1.0, seed=3)):
        with pytest.warns(SegdiscoverWarning, match="distinct") as rec:
            FeatureSet.default().build({**data.tables, "orders": frame}, data.as_of)
        seen.append(next(str(w.message) for w in rec if "distinct" in str(w.message)))
    assert seen[0] == seen[1] == seen[2]
    assert f"e.g. 'Z{strays[0]}', 'Z{strays[1]}')" in seen[0]


# ------------------------------------------------------- 4. Decimal columns
def test_decimal_columns_are_numbers():
    t = small_table().with_columns(
        pl.col("revenue").round(2).cast(pl.Decimal(18, 2)),
        pl.col("tickets").cast(pl.Decimal(10, 0)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame, _, meta = prepare_table(t, "cust")
    assert frame.schema["revenue"] == pl.Float64
    assert frame.schema["tickets"] == pl.Int64
    assert {m.name: m.kind for m in meta}["revenue"] == "numeric"
    # A 20-digit whole-number decimal id is kept exactly, as text.
    big = pl.DataFrame({"id": [Decimal("12345678901234567890123")]})
    assert to_polars(big)["id"].to_list() == ["12345678901234567890123"]


def test_decimal_raw_amounts_give_the_float_features(data):
    orders = data.tables["orders"].with_columns(
        pl.col("amount").round(2).cast(pl.Decimal(18, 2))
    )
    exact = data.tables["orders"].with_columns(pl.col("amount").round(2))
    got = FeatureSet.default().build({**data.tables, "orders": orders}, data.as_of)
    want = FeatureSet.default().build({**data.tables, "orders": exact}, data.as_of)
    assert got.frame.columns == want.frame.columns
    assert got.frame.equals(want.frame)


# ------------------------------------------------------ 5. decimal commas
def test_semicolon_csv_with_decimal_commas_reads_numbers(tmp_path):
    p = tmp_path / "eu.csv"
    p.write_text(
        "cust;amount;big;plan;note\n"
        "00001;12,5;1.234,5;a;x, y\n"
        "00002;-3,25;2.000;b;z\n"
        "00003;;7,0;a;w\n"
        "00004;4;10;b;v\n"
    )
    t = read_table(str(p), "cust")
    assert t["amount"].to_list() == [12.5, -3.25, None, 4.0]
    assert t["big"].to_list() == [1234.5, 2000.0, 7.0, 10.0]
    assert t["plan"].to_list() == ["a", "b", "a", "b"]
    assert t["note"].to_list() == ["x, y", "z", "w", "v"]
    assert t["cust"].to_list() == ["00001", "00002", "00003", "00004"]


def test_decimal_comma_junk_is_refused_naming_the_column(tmp_path):
    rows = [f"{i:05d};{i},5" for i in range(40)]
    rows[17] = "00017;n/a"
    p = tmp_path / "eu.csv"
    p.write_text("cust;amount\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError, match=r"'amount'.*1 of 40 .*'n/a' on data row 18"):
        read_table(str(p), "cust")


def test_cli_semicolon_decimal_comma_table_fits(tmp_path, capsys):
    df = small_table()
    text = df.with_columns(
        pl.col("revenue").round(2).cast(pl.String).str.replace(".", ",", literal=True)
    )
    src = tmp_path / "eu.csv"
    text.write_csv(src, separator=";")
    out = tmp_path / "out"
    args = ["discover", "--table", str(src), "--id", "cust", "--k", "3"]
    assert main([*args, "--out", str(out)]) == 0, capsys.readouterr().err
    doc = (out / "segments.json").read_text()
    assert '"revenue"' in doc  # read as a number and used, not dropped


@pytest.mark.parametrize(
    ("values", "want"),
    [
        (["1,234.50", "2,000.00", "999.5"], [1234.5, 2000.0, 999.5]),
        (["1,234,567", "12", "-3,000.5"], [1234567.0, 12.0, -3000.5]),
        (["12,5", "3,25", "7"], [12.5, 3.25, 7.0]),
        (["1.234,5", "12,5", "-0,75"], [1234.5, 12.5, -0.75]),
    ],
)
def test_text_numbers_with_thousands_or_decimal_commas_are_numbers(values, want):
    # Read plainly, such a column was taken for categories or dropped as an
    # identifier, with only a "not used as features" note.
    n = 60
    col = (values * n)[:n]
    t = small_table(n).with_columns(pl.Series("revenue", col))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame, _, meta = prepare_table(t, "cust")
    assert frame.schema["revenue"] == pl.Float64
    assert {m.name: m.kind for m in meta}["revenue"] == "numeric"
    by_id = dict(zip(t["cust"], frame.sort("cust")["revenue"], strict=True))
    assert [by_id[t["cust"][i]] for i in range(len(want))] == want


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        (["10,000", "2,500", "999"], "read as thousands or as decimals"),
        (["1,234.5", "12,5", "3"], "thousands commas and decimal commas mixed"),
        (["12,5", "1.5", "3"], "decimal commas and decimal dots mixed"),
    ],
)
def test_ambiguous_or_mixed_commas_are_refused_not_guessed(values, needle):
    t = small_table(60).with_columns(pl.Series("revenue", (values * 20)[:60]))
    with pytest.raises(InputError, match=rf"Column 'revenue' .*{needle}"):
        prepare_table(t, "cust")


def test_a_model_assigns_the_thousands_separated_file_it_was_fitted_on(tmp_path):
    t = small_table().with_columns(
        pl.col("revenue").map_elements(lambda v: f"{v:,.2f}", return_dtype=pl.String)
    )
    seg = Segmenter(
        id="cust", clusterer="kmeans", n_segments=3, random_state=0, stability_refits=0
    ).fit(t)
    assert seg.features_.schema["revenue"] == pl.Float64
    out = seg.assign(t)  # refused as text before, though fit had read it
    assert out["segment_id"].equals(seg.labels_["segment_id"])
    model = load(seg.save(tmp_path / "m"))
    assert model.assign(t)["segment_id"].equals(seg.labels_["segment_id"])


def test_a_utf16_file_is_refused_not_segmented(tmp_path, capsys):
    # Read as UTF-8, every name and value of a UTF-16 file has NULs between its
    # letters; with --row-ids the garbage columns were segmented (exit 0).
    src = tmp_path / "u16.csv"
    src.write_bytes(small_table().write_csv().encode("utf-16"))
    args = ["discover", "--table", str(src), "--row-ids", "--k", "3"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    assert "not UTF-8 text" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------- 6. Markdown escaping
HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "a|b\nc"]


def test_md_helpers():
    for s in HOSTILE:
        assert "<" + s[1:4] not in md_text(s)
        assert "\n" not in md_cell(s)
        assert re.search(r"(?<!\\)\|", md_cell(s)) is None
    assert md_text("[x](javascript:alert(1))").startswith("\\[")
    assert md_text("Jaccard < 0.8") == "Jaccard < 0.8"


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def check_markdown(md: str) -> None:
    assert "<script" not in md
    assert "<img" not in md
    lines = md.split("\n")
    for i, line in enumerate(lines):
        if re.fullmatch(r"\|(---\|)+", line):
            width = unescaped_pipes(lines[i - 1])
            j = i + 1
            while j < len(lines) and lines[j].startswith("|"):
                assert unescaped_pipes(lines[j]) == width, lines[j]
                j += 1


def test_profile_markdown_escapes_names_and_values():
    card = SegmentProfile(
        segment_id=0,
        name=HOSTILE[0],
        size=10,
        share=0.5,
        drivers=[],
        narrative=HOSTILE[1],
        fidelity_f1=None,
        meta={},
    )
    md = card.to_markdown()
    check_markdown(md)
    assert "&lt;script>" in md


def test_report_markdown_escapes_hostile_values(tmp_path):
    df = (
        small_table()
        .with_columns(
            pl.when(pl.col("plan") == "smb")
            .then(pl.lit(HOSTILE[1]))
            .otherwise(pl.lit(HOSTILE[2]))
            .alias("plan")
        )
        .rename({"tickets": "<b>tickets</b> | per\nmonth"})
    )
    seg = Segmenter(
        id="cust", clusterer="kmeans", n_segments=3, random_state=0, stability_refits=0
    ).fit(df)
    md = seg.report(tmp_path / "r.md").read_text()
    check_markdown(md)
    assert "<b>" not in md
    assert "onerror" in md  # shown as text, not dropped


def test_library_outcomes_with_text_ids_join_integer_ids():
    import warnings

    import numpy as np

    import segdiscover as sd

    rng = np.random.default_rng(0)
    table = pl.DataFrame({"customer_id": np.arange(200), "x": rng.normal(size=200)})
    out = pl.DataFrame(
        {"customer_id": [str(i) for i in range(200)], "churned": rng.random(200) < 0.2}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = sd.Segmenter(
            clusterer="kmeans",
            n_segments=2,
            random_state=0,
            stability_refits=0,
            guide="none",
        ).fit(table, outcomes=out)
    assert seg.outcomes_["n"].sum() == 200
    padded = out.with_columns(pl.col("customer_id").str.zfill(5))
    with pytest.raises(sd.exceptions.InputError, match="outcomes table"):
        sd.Segmenter(clusterer="kmeans", n_segments=2).fit(table, outcomes=padded)
