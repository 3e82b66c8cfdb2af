"""Segment name words a segment owner reads naturally, on the real Telco columns.

A yes/no fact reads the same whether it arrives as Booleans, 0/1 numbers or yes/no
text; categories of three or more levels read as "<level> <label>". Expectations
are written by hand.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import segdiscover as sd
from segdiscover._table import label_of, prepare_table
from segdiscover.features import FeatureMeta
from segdiscover.features._spec import binary_words, level_clause, level_word
from segdiscover.profiles import SegmentProfile, driver_sentence, make_names, narrative

ENCODINGS = {
    "Boolean": (True, False),
    "0/1 numbers": (1, 0),
    "Yes/No": ("Yes", "No"),
    "yes/no": ("yes", "no"),
    "Y/N": ("Y", "N"),
    "True/False text": ("True", "False"),
    "1/0 text": ("1", "0"),
}

#: column -> (word when yes, word when no), written by hand.
FACTS = {
    "SeniorCitizen": ("senior citizens", "not senior citizens"),
    "Partner": ("has a partner", "no partner"),
    "Dependents": ("has dependents", "no dependents"),
    "PhoneService": ("has phone service", "no phone service"),
    "PaperlessBilling": ("has paperless billing", "no paperless billing"),
    "OnlineSecurity": ("has online security", "no online security"),
    "OnlineBackup": ("has online backup", "no online backup"),
    "DeviceProtection": ("has device protection", "no device protection"),
    "TechSupport": ("has tech support", "no tech support"),
    "StreamingTV": ("has streaming TV", "no streaming TV"),
    "StreamingMovies": ("has streaming movies", "no streaming movies"),
    "MultipleLines": ("has multiple lines", "no multiple lines"),
    "home_owner": ("homeowners", "not homeowners"),
    "HomeOwner": ("homeowners", "not homeowners"),
    "loyalty_card": ("has a loyalty card", "no loyalty card"),
    "LoyaltyCard": ("has a loyalty card", "no loyalty card"),
    "is_member": ("members", "not members"),
    "IsActiveMember": ("active members", "not active members"),
    "HasCrCard": ("has a cr card", "no cr card"),
    "has_email": ("has email", "no email"),
    "Complain": ("complained", "not complained"),
    "AcceptedCmp1": ("accepted cmp1", "not accepted cmp1"),
    "churn_flag": ("churned", "not churned"),
}


def fact_words(column: str, yes, no) -> tuple[str, str]:
    """The words a table column gets for its yes and its no, through the door."""
    n = 40
    values = [yes, no] * (n // 2)
    t = pl.DataFrame({"id": range(n), column: values, "x": np.arange(n) % 7})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, _, meta = prepare_table(t, "id")
    (m,) = [m for m in meta if m.name == column]
    if m.kind == "categorical":
        return m.word("+", str(yes)), m.word("+", str(no))
    return m.word("+"), m.word("-")


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("column", list(FACTS))
def test_a_yes_no_fact_reads_the_same_in_every_encoding(column, encoding):
    yes, no = ENCODINGS[encoding]
    assert fact_words(column, yes, no) == FACTS[column]


@pytest.mark.parametrize(
    ("column", "level", "word"),
    [
        ("Contract", "Month-to-month", "month-to-month contract"),
        ("Contract", "One year", "one year contract"),
        ("Contract", "Two year", "two year contract"),
        ("InternetService", "Fiber optic", "fiber optic internet service"),
        ("InternetService", "DSL", "DSL internet service"),
        ("InternetService", "No", "no internet service"),
        ("OnlineSecurity", "Yes", "has online security"),
        ("OnlineSecurity", "No", "no online security"),
        ("OnlineSecurity", "No internet service", "no internet service"),
        ("MultipleLines", "No phone service", "no phone service"),
        ("PaymentMethod", "Electronic check", "electronic check payment method"),
        ("gender", "Female", "female"),
        ("gender", "Male", "male"),
        ("gender", "F", "female"),
        ("Marital_Status", "Married", "married"),
        ("Education", "PhD", "PhD education"),
        ("channel", "Multichannel", "multichannel"),
        ("segment", "Womens E-Mail", "womens E-Mail segment"),
    ],
)
def test_category_levels_read_naturally(column, level, word):
    m = FeatureMeta(column, "table", label_of(column), kind="categorical")
    assert m.word("+", level) == word


def test_real_telco_columns_through_the_door():
    # The Telco header and one row per level, as the public file writes them.
    t = pl.DataFrame(
        {
            "customerID": ["a", "b", "c", "d"],
            "gender": ["Female", "Male", "Female", "Male"],
            "SeniorCitizen": [0, 1, 0, 0],
            "Partner": ["Yes", "No", "No", "Yes"],
            "Dependents": ["No", "No", "Yes", "No"],
            "PhoneService": ["No", "Yes", "Yes", "Yes"],
            "InternetService": ["DSL", "Fiber optic", "No", "DSL"],
            "OnlineSecurity": ["No", "Yes", "No internet service", "Yes"],
            "Contract": ["Month-to-month", "One year", "Two year", "One year"],
            "PaperlessBilling": ["Yes", "No", "No", "Yes"],
            "tenure": [1, 34, 2, 45],
        }
    )
    _, _, meta = prepare_table(t, "customerID")
    m = {x.name: x for x in meta}
    got = {
        "female": m["gender"].word("+", "Female"),
        "senior": (m["SeniorCitizen"].word("+"), m["SeniorCitizen"].word("-")),
        "partner": m["Partner"].word("+", "Yes"),
        "dependents": m["Dependents"].word("+", "No"),
        "paperless": m["PaperlessBilling"].word("+", "No"),
        "security": m["OnlineSecurity"].word("+", "Yes"),
        "contract": m["Contract"].word("+", "Month-to-month"),
        "fiber": m["InternetService"].word("+", "Fiber optic"),
        "tenure": (m["tenure"].word("+"), m["tenure"].word("-")),
    }
    assert got == {
        "female": "female",
        "senior": ("senior citizens", "not senior citizens"),
        "partner": "has a partner",
        "dependents": "no dependents",
        "paperless": "no paperless billing",
        "security": "has online security",
        "contract": "month-to-month contract",
        "fiber": "fiber optic internet service",
        "tenure": ("high tenure", "low tenure"),
    }


def test_names_upper_case_only_their_first_letter():
    meta = {
        "Partner": FeatureMeta("Partner", "table", "partner", kind="categorical"),
        "Contract": FeatureMeta("Contract", "table", "contract", kind="categorical"),
        "InternetService": FeatureMeta(
            "InternetService", "table", "internet service", kind="categorical"
        ),
        "SeniorCitizen": FeatureMeta(
            "SeniorCitizen",
            "table",
            "senior citizen",
            *("", "numeric"),
            *binary_words("senior citizen"),
        ),
    }

    def d(feature, category=None, direction="+"):
        return {
            "feature": feature,
            "category": category,
            "direction": direction,
            "passes": True,
        }

    drivers = {
        0: [d("Contract", "Month-to-month"), d("InternetService", "DSL")],
        1: [d("InternetService", "DSL"), d("Partner", "No")],
        2: [d("SeniorCitizen"), d("Partner", "Yes")],
        3: [d("Partner", "No"), d("SeniorCitizen", direction="-")],
    }
    names = {seg: n for seg, (n, _) in make_names(drivers, meta).items()}
    assert names == {
        0: "Month-to-month contract, DSL internet service",
        1: "DSL internet service, no partner",
        2: "Senior citizens, has a partner",
        3: "No partner, not senior citizens",
    }


def test_binary_words_of_unusual_labels():
    assert binary_words("") == ("yes", "no")
    assert binary_words("default") == ("in default", "not in default")
    assert binary_words("VIP") == ("VIPs", "not VIPs")
    assert binary_words("married") == ("married", "not married")
    assert binary_words("has children") == ("has children", "no children")
    assert binary_words("internet access") == (
        "has internet access",
        "no internet access",
    )
    assert binary_words("app user") == ("app users", "not app users")
    assert binary_words("online account") == (
        "has an online account",
        "no online account",
    )
    assert binary_words("churn flag") == ("churned", "not churned")
    assert level_word("region", "North") == "north region"


def test_fitted_names_have_no_raw_levels():
    # A planted Telco-like table: segments differ on Partner, Contract and seniors.
    rng = np.random.default_rng(0)
    n = 600
    g = rng.integers(0, 3, n)
    t = pl.DataFrame(
        {
            "customerID": [f"C{i}" for i in range(n)],
            "Partner": np.where(g == 0, "Yes", "No"),
            "Contract": np.where(g == 1, "Month-to-month", "Two year"),
            "SeniorCitizen": (g == 2).astype(int),
            "MonthlyCharges": rng.normal(60, 5, n) + 30 * (g == 1),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = sd.Segmenter(
            id="customerID",
            clusterer="kmeans",
            n_segments=3,
            random_state=0,
            stability_refits=2,
        ).fit(t)
    names = seg.segments_["name"].to_list()
    text = " | ".join(names)
    assert "Yes" not in text, text
    allowed = {
        "has a partner",
        "no partner",
        "month-to-month contract",
        "two year contract",
        "senior citizens",
        "not senior citizens",
        "high monthly charges",
        "low monthly charges",
    }
    for name in names:
        words = {w.strip().lower() for w in name.split(" #")[0].split(",")}
        assert words <= allowed, name
    # the planted facts are named: each group's own word appears in some name
    assert {"has a partner", "month-to-month contract", "senior citizens"} <= {
        w.strip().lower() for n in names for w in n.split(",")
    }, text


def planted_tables(n: int = 400):
    """make_customers tables plus a planted 0/1 and a Boolean customer attribute."""
    d = sd.datasets.make_customers(n_customers=n, n_segments=3)
    tables = dict(d.tables)
    c = tables["customers"]
    truth = dict(d.truth.select("customer_id", "segment").iter_rows())
    first = sorted(set(truth.values()))[0]
    rng = np.random.default_rng(0)
    own = np.array([truth[i] == first for i in c["customer_id"]])
    tables["customers"] = c.with_columns(
        home_owner=pl.Series(
            np.where(own, rng.random(c.height) < 0.95, rng.random(c.height) < 0.05)
        ).cast(pl.Int64),
        has_app=pl.Series(rng.random(c.height) < 0.5),
    )
    return tables, d.as_of


def test_raw_tables_yes_no_attributes_read_as_facts():
    tables, as_of = planted_tables()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = sd.Segmenter(n_segments=3, random_state=0, stability_refits=2).fit(
            tables, as_of=as_of
        )
    fs = sd.features.FeatureSet.default()
    built = fs.build(tables, as_of=as_of)
    m = {x.name: x for x in built.meta}
    assert (m["home_owner"].high, m["home_owner"].low) == (
        "homeowners",
        "not homeowners",
    )
    assert (m["has_app"].high, m["has_app"].low) == ("has an app", "no app")
    # a number that is not 0/1 keeps high/low
    assert m["company_size"].high == "high company size"
    assert built.levels["attribute"]["yes_no"] == ["home_owner", "has_app"]
    text = " | ".join(seg.segments_["name"].to_list())
    assert "homeowners" in text.lower(), text
    assert "home owner" not in text.lower(), text
    rows = [
        r
        for s in seg.segments_["segment_id"].to_list()
        for r in seg.profile(s)._driver_rows()
        if r[0] == "home owner"
    ]
    # the planted segment holds ~95% homeowners; its card shows the share of yes
    assert any(r[2].startswith("homeowners: 9") for r in rows), rows


def test_saved_levels_without_yes_no_keep_high_low():
    # A model saved before the 0/1 facts were learned has no "yes_no" key.
    meta = sd.features.Attributes().metadata(
        {"columns": ["home_owner"], "kinds": {"home_owner": "numeric"}}
    )
    assert (meta[0].high, meta[0].low) == ("high home owner", "low home owner")


def cat(column: str) -> FeatureMeta:
    return FeatureMeta(column, "table", label_of(column), kind="categorical")


@pytest.mark.parametrize(
    ("meta", "category", "sentence"),
    [
        (cat("Partner"), "Yes", "80.0% have a partner, against 48.3% overall"),
        (cat("Partner"), "No", "80.0% have no partner, against 48.3% overall"),
        (
            cat("Contract"),
            "Month-to-month",
            "80.0% are on a month-to-month contract, against 48.3% overall",
        ),
        (
            cat("Contract"),
            "One year",
            "80.0% are on a one year contract, against 48.3% overall",
        ),
        (
            cat("PaperlessBilling"),
            "No",
            "80.0% have no paperless billing, against 48.3% overall",
        ),
        (
            cat("InternetService"),
            "Fiber optic",
            "80.0% have fiber optic internet service, against 48.3% overall",
        ),
        (
            cat("OnlineSecurity"),
            "No internet service",
            "80.0% have no internet service, against 48.3% overall",
        ),
        (
            cat("PaymentMethod"),
            "Electronic check",
            "80.0% have an electronic check payment method, against 48.3% overall",
        ),
        (cat("gender"), "Female", "80.0% are female, against 48.3% overall"),
        (cat("SeniorCitizen"), "1", "80.0% are senior citizens, against 48.3% overall"),
        (cat("Complain"), "No", "80.0% have not complained, against 48.3% overall"),
        (
            cat("region"),
            "North",
            "80.0% are in the north region, against 48.3% overall",
        ),
        (cat("month"), "apr", "80.0% are in April, against 48.3% overall"),
        (
            FeatureMeta(
                "SeniorCitizen",
                "table",
                "senior citizen",
                *("", "numeric"),
                *binary_words("senior citizen"),
            ),
            None,
            "80.0% are senior citizens, against 48.3% overall",
        ),
    ],
)
def test_driver_sentences_read_like_the_names(meta, category, sentence):
    d = {
        "feature": meta.name,
        "category": category,
        "segment_mean": 0.8,
        "population_mean": 0.483,
        "segment_median": 1.0,
        "population_median": 0.0,
    }
    assert driver_sentence(d, meta) == sentence


def test_narrative_and_card_use_name_words():
    meta = {
        "Contract": cat("Contract"),
        "tenure": FeatureMeta("tenure", "table", "tenure", unit="months"),
    }
    drivers = [
        {
            "feature": "Contract",
            "category": "Month-to-month",
            "direction": "+",
            "segment_mean": 0.621,
            "population_mean": 0.551,
            "segment_median": float("nan"),
            "population_median": float("nan"),
            "effect_measure": "cohens_h",
            "effect_size": 0.6,
            "passes": True,
        },
        {
            "feature": "tenure",
            "category": None,
            "direction": "-",
            "segment_mean": 6.0,
            "population_mean": 30.0,
            "segment_median": 5.0,
            "population_median": 29.0,
            "effect_measure": "cliffs_delta",
            "effect_size": -0.7,
            "passes": True,
        },
    ]
    text = narrative("New monthly", 120, 0.12, 1000, drivers, meta, None)
    assert text == (
        "New monthly holds 120 customers (12.0% of 1,000). 62.1% are on a "
        "month-to-month contract, against 55.1% overall; their median tenure is 5 "
        "against 29 across all customers."
    )
    card = SegmentProfile(0, "New monthly", 120, 0.12, drivers, text, None, meta)
    assert card._driver_rows()[0][2] == "month-to-month contract: 62.1%"


@pytest.mark.parametrize(
    ("label", "level", "word"),
    [
        ("month", "apr", "April"),
        ("month", "Sep", "September"),
        ("contact month", "may", "May contact month"),
        ("day of week", "mon", "Monday"),
        # not a calendar label: "mar" stays a level like any other
        ("tier", "mar", "mar tier"),
    ],
)
def test_calendar_levels_read_as_names(label, level, word):
    assert level_word(label, level) == word


@pytest.mark.parametrize(
    ("label", "level", "word", "clause"),
    [
        # levels that say who the customer is read alone, whatever the label
        ("genre", "Female", "female", "are female"),
        ("job", "retired", "retired", "are retired"),
        ("job", "student", "students", "are students"),
        ("job", "blue-collar", "blue-collar job", "have a blue-collar job"),
        # a level that already names the label's noun reads as what they are
        ("channel", "Multichannel", "multichannel", "are multichannel"),
        # a sort key is not a word of the level
        (
            "history segment",
            "2) $100 - $200",
            "$100 - $200 history segment",
            "are in the $100 - $200 history segment",
        ),
        ("zip code", "Urban", "urban zip code", "have an urban zip code"),
        ("plan", "Unlimited", "unlimited plan", "are on an unlimited plan"),
        ("plan", "User", "users", "are users"),
    ],
)
def test_real_table_levels_read_naturally(label, level, word, clause):
    assert (level_word(label, level), level_clause(label, level)) == (word, clause)
