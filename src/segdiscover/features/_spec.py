"""What every feature builder shares: metadata, the builder base, time helpers."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl
from sklearn.base import BaseEstimator

from segdiscover.exceptions import InputError

MS_PER_DAY = 86_400_000
DAYS_PER_MONTH = 30.44


@dataclass(frozen=True)
class FeatureMeta:
    """Metadata of one feature column: how to read it and how to name a segment by it.

    Attributes
    ----------
    name : str
        Column name.
    family : str
        ``behavioural``, ``value``, ``service``, ``channel`` or ``attribute``.
    label : str
        Business label, e.g. ``"orders per month"``.
    unit : str
        Unit of the value (``"days"``, ``"currency"``, ``"share"``, ``""``).
    kind : str
        ``"numeric"`` or ``"categorical"``.
    high, low : str
        Words a segment name uses when the segment is above / below the population.
    fill : str
        What a customer with no events gets, documented (e.g. ``"0"`` or ``"null"``).
    derived_from : tuple of str
        Features this one is a function of (``dominant_channel`` is the largest of
        the ``share_*`` columns). Where all of them are clustered it is not: it would
        count them twice, and its hard cut turns a near-even mix into a split. It
        still names, profiles and explains segments.
    """

    name: str
    family: str
    label: str
    unit: str = ""
    kind: str = "numeric"
    high: str = ""
    low: str = ""
    fill: str = "0"
    derived_from: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.derived_from, str):  # a str would read as its letters
            msg = (
                f"FeatureMeta {self.name!r}: derived_from must be a list of column "
                f"names, got the string {self.derived_from!r}."
            )
            raise InputError(msg)
        # Saved models hold JSON lists; a tuple keeps the metadata hashable.
        object.__setattr__(self, "derived_from", tuple(self.derived_from))

    def word(self, direction: str, category: str | None = None) -> str:
        """Return the name word for a direction ("+"/"-") or a category level.

        A category level reads through :func:`level_word` (``Yes`` of ``partner``
        is ``has a partner``); a number reads as its ``high``/``low`` word.

        Examples
        --------
        >>> FeatureMeta("Partner", "table", "partner", kind="categorical").word(
        ...     "+", "Yes"
        ... )
        'has a partner'
        >>> FeatureMeta("Contract", "table", "contract", kind="categorical").word(
        ...     "+", "Month-to-month"
        ... )
        'month-to-month contract'
        >>> FeatureMeta("tenure", "table", "tenure").word("-")
        'low tenure'
        """
        if self.kind == "categorical":
            return level_word(self.label, category) if category else self.label
        word = self.high if direction == "+" else self.low
        return word or f"{'high' if direction == '+' else 'low'} {self.label}"

    @property
    def yes_no(self) -> bool:
        """Whether this is a numeric 0/1 fact (read through :func:`binary_words`).

        Examples
        --------
        >>> FeatureMeta("SeniorCitizen", "table", "senior citizen", "", "numeric",
        ...     *binary_words("senior citizen")).yes_no
        True
        >>> FeatureMeta("tenure", "table", "tenure").yes_no
        False
        """
        return self.kind == "numeric" and (self.high, self.low) == binary_words(
            self.label
        )

    def clause(self, category: str | None = None) -> str | None:
        """Return what a share of customers does: hold ``category``, or a 0/1 fact.

        Completes ``"80.0% ..."`` in the words of :meth:`word`; None for a number
        that is not a 0/1 fact (a share of it means nothing) and for a categorical
        feature without a level.

        Examples
        --------
        >>> FeatureMeta("Partner", "table", "partner", kind="categorical").clause(
        ...     "Yes"
        ... )
        'have a partner'
        >>> FeatureMeta("tenure", "table", "tenure").clause() is None
        True
        """
        if self.kind == "categorical":
            return level_clause(self.label, category) if category else None
        return binary_clauses(self.label)[0] if self.yes_no else None


def derivations(meta: Sequence[FeatureMeta]) -> dict[str, tuple[str, ...]]:
    """Column -> the columns it is derived from, for ``Preprocessor.fit(derived=)``.

    Examples
    --------
    >>> derivations([FeatureMeta("top", "channel", "channel", derived_from=["a"])])
    {'top': ('a',)}
    """
    return {m.name: m.derived_from for m in meta if m.derived_from}


#: Levels of a yes/no fact, lower-cased (text exports write Yes/No, Y/N, True/False,
#: t/f or 1/0).
YES_LEVELS = frozenset({"yes", "y", "true", "t", "1"})
NO_LEVELS = frozenset({"no", "n", "false", "f", "0"})

# Vocabulary for yes/no words, kept small on purpose: a label outside it reads as a
# thing the customer has ("has a loyalty card" / "no loyalty card"), the most common
# kind of yes/no column in customer exports.
_PERSONS = frozenset(
    # A word list reads better as text than as 31 quoted items.
    str.split(
        "adult buyer cardholder citizen client customer donor driver employee holder "
        "homeowner member minor newbie newcomer owner parent policyholder renter "
        "resident retiree senior shareholder smoker student subscriber tenant user "
        "veteran vip volunteer"
    )
)
_UNCOUNTABLE = frozenset(
    str.split(
        "access advice backup banking billing broadband coverage credit data debt "
        "email equipment feedback health income information insurance internet life "
        "mail protection security service software storage support travel tv "
        "wifi"
    )
)
_ADJECTIVES = frozenset({"active", "eligible", "online", "premium", "verified"})
_COMPOUNDS = {
    "home owner": "homeowner",
    "card holder": "cardholder",
    "policy holder": "policyholder",
    "share holder": "shareholder",
}
_PAST = {"complain": "complained", "respond": "responded", "churn": "churned"}
#: Participles that say what a customer is, not what they did ("are married").
_STATES = frozenset(
    str.split(
        "married divorced separated widowed retired employed unemployed "
        "self-employed insured uninsured registered subscribed enrolled"
    )
)
_PHRASES = {"default": ("in default", "not in default")}
_GENDER_LEVELS = {"f": "female", "m": "male", "w": "female"}
#: Labels whose levels read alone: "female", not "female gender".
_SELF_NAMED = frozenset({"gender", "sex", "marital", "marital status"})
#: Calendar levels (``apr``, ``Mon``) read as their full names.
_MONTHS = str.split(
    "January February March April May June July August September October "
    "November December"
)
_WEEKDAYS = str.split("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
_CALENDAR = {
    **{m[:3].lower(): m for m in _MONTHS},
    **{m.lower(): m for m in _MONTHS},
    "sept": "September",
    **{d[:3].lower(): d for d in _WEEKDAYS},
    **{d.lower(): d for d in _WEEKDAYS},
}
#: Labels that are only the calendar unit: their levels read alone ("April").
_CALENDAR_LABELS = frozenset(
    {"month", "day", "weekday", "day of week", "dow", "month of year"}
)
#: Last words of labels whose levels a customer is *in* ("in the north region").
_IN_NOUNS = frozenset(
    str.split(
        "area band bracket category city class cluster country county district "
        "group industry market province region sector segment state tier zone"
    )
)
#: Last words of labels whose levels a customer is *on* ("on a two year contract").
_ON_NOUNS = frozenset(
    {"contract", "plan", "tariff", "package", "programme", "program", "scheme"}
)


def _plural(word: str) -> str:
    if word.isupper():
        return word + "s"
    if word.endswith("y") and word[-2:-1] not in tuple("aeiou"):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def _is_plural(word: str) -> bool:
    w = word.lower()
    if w in ("children", "people", "men", "women", "staff"):
        return True
    return len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is"))


def _article(words: list[str]) -> str:
    """``a``/``an`` before a singular countable noun phrase, else nothing."""
    last = words[-1]
    if last.isupper() or _is_plural(last) or last.lower() in _UNCOUNTABLE:
        return ""
    if last.endswith("ing") or any(ch.isdigit() for ch in last):
        return ""
    first = words[0].lower()
    vowel = (first[:1] in tuple("aeio") and not first.startswith(("one", "once"))) or (
        first[:1] == "u" and not first.startswith(("uni", "use", "usu", "ura", "uri"))
    )
    return "an " if vowel else "a "


def _binary_parts(label: str) -> tuple[str, str, str]:
    """(kind, word when yes, word when no) of a yes/no fact; see :func:`binary_words`.

    ``kind`` says which verb a sentence about the fact takes: ``has`` (a thing the
    customer has), ``are`` (who or what they are) or ``done`` (something they did).
    """
    words = label.split()
    if not words:
        return "are", "yes", "no"
    first = words[0].lower()
    prefix = first if first in ("is", "has", "have", "with") and len(words) > 1 else ""
    if prefix:
        words = words[1:]
    if len(words) > 1 and words[-1].lower() in ("flag", "yn", "ind", "indicator"):
        words = words[:-1]
    text = " ".join(words)
    for two, one in _COMPOUNDS.items():
        text = text.replace(two, one)
    words = text.split()
    head, last = words[0].lower(), words[-1].lower()
    if not prefix and text.lower() in _PHRASES:
        return ("are", *_PHRASES[text.lower()])
    if prefix != "has" and (last in _PERSONS or last.endswith(("owner", "holder"))):
        yes = " ".join([*words[:-1], _plural(words[-1])])
        return "are", yes, f"not {yes}"
    if prefix == "is" or (
        not prefix
        and (
            (len(words) == 1 and (head in _ADJECTIVES or head in _PAST))
            or (len(head) > 4 and head.endswith("ed"))
        )
    ):
        yes = " ".join([_PAST.get(head, words[0]), *words[1:]])
        # "is verified", "married", "active" are states; "complained", "accepted
        # cmp1" are things the customer did ("have complained").
        state = prefix == "is" or head in _ADJECTIVES or head in _STATES
        return ("are" if state else "done"), yes, f"not {yes}"
    return "has", f"has {_article(words)}{text}", f"no {text}"


def binary_words(label: str) -> tuple[str, str]:
    """Words for a yes/no fact from its label: (word when yes, word when no).

    Person nouns read as who the customers are (``senior citizens``, ``homeowners``);
    adjectives and past participles as what they are (``active``, ``accepted
    cmp1``); anything else as a thing they have (``has a partner``, ``has online
    security``, ``no paperless billing``). A leading ``is``/``has`` and a trailing
    ``flag``/``yn``/``ind`` are read, not repeated. Words stay lower case (acronyms
    keep theirs): names upper-case only their first letter.

    Examples
    --------
    >>> binary_words("senior citizen")
    ('senior citizens', 'not senior citizens')
    >>> binary_words("home owner"), binary_words("partner")
    (('homeowners', 'not homeowners'), ('has a partner', 'no partner'))
    >>> binary_words("paperless billing"), binary_words("dependents")
    (('has paperless billing', 'no paperless billing'), ('has dependents', 'no dependents'))
    >>> binary_words("is active"), binary_words("has email")
    (('active', 'not active'), ('has email', 'no email'))
    """  # noqa: E501
    _, yes, no = _binary_parts(label)
    return yes, no


def binary_clauses(label: str) -> tuple[str, str]:
    """Return what a share of customers does for a yes/no fact: (yes, no).

    The clause completes ``"80.0% ..."`` in the words of :func:`binary_words`:
    things had read with *have*, who or what customers are with *are*, things they
    did with *have* before the participle.

    Examples
    --------
    >>> binary_clauses("partner")
    ('have a partner', 'have no partner')
    >>> binary_clauses("senior citizen")
    ('are senior citizens', 'are not senior citizens')
    >>> binary_clauses("complain"), binary_clauses("married")
    (('have complained', 'have not complained'), ('are married', 'are not married'))
    """
    kind, yes, no = _binary_parts(label)
    if kind == "has":
        return f"have {yes.removeprefix('has ')}", f"have {no}"
    verb = "have" if kind == "done" else "are"
    return f"{verb} {yes}", f"{verb} {no}"


def _lower_first(level: str) -> str:
    """``Month-to-month`` -> ``month-to-month``; acronyms (``DSL``) stay."""
    head = level.split()[0] if level.split() else level
    if len(head) > 1 and head[0].isupper() and head[1:].islower():
        return level[0].lower() + level[1:]
    return level


#: A sort key before a level ("1) $0 - $100", "2. Silver") is not a word of it.
_ENUMERATOR = re.compile(r"^\(?\d{1,2}[).]\s+|^[a-zA-Z]\)\s+")


def _who(level: str) -> str | None:
    """Return a level that says who the customer is, read alone whatever the label.

    ``female``/``male`` (a ``Genre`` column), a state (``retired`` of ``job``) or a
    person noun (``student`` of ``job`` reads ``students``).
    """
    low = level.lower()
    if low in ("female", "male") or low in _STATES:
        return low
    if low in _PERSONS:
        return _plural(low)
    return None


def _calendar(label: str, level: str) -> str | None:
    """Full name of a month/weekday level of a calendar label (``apr`` -> ``April``)."""
    words = set(label.lower().split())
    if words & {"month", "day", "weekday", "dow", "week"}:
        return _CALENDAR.get(level.strip().lower().rstrip("."))
    return None


def level_word(label: str, level: str) -> str:
    """Name word of one category level: yes/no levels as facts, others as adjectives.

    ``Yes``/``No`` (also ``Y``/``N``, ``True``/``False``, ``1``/``0``) read as
    :func:`binary_words`, so a Yes/No text column reads like a 0/1 or Boolean one;
    a level that is already a phrase (``No internet service``) reads as it is;
    gender and marital levels read alone (``female``, ``married``), and so do
    levels that say who the customer is (``retired``, ``student`` of ``job`` reads
    ``students``) and month and weekday levels of a bare calendar label (``apr``
    of ``month`` is ``April``); other levels go before the label (``fiber optic
    internet service``, ``April contact month``). A leading sort key (``1) $0 -
    $100``) is dropped.

    Examples
    --------
    >>> level_word("online security", "Yes"), level_word("online security", "No")
    ('has online security', 'no online security')
    >>> level_word("online security", "No internet service")
    'no internet service'
    >>> level_word("internet service", "DSL"), level_word("gender", "Female")
    ('DSL internet service', 'female')
    >>> level_word("month", "apr"), level_word("contact month", "apr")
    ('April', 'April contact month')
    """
    level = _ENUMERATOR.sub("", level.strip())
    low = level.lower()
    if label.lower() in _SELF_NAMED:
        return _GENDER_LEVELS.get(low, _lower_first(level))
    if low in YES_LEVELS:
        return binary_words(label)[0]
    if low in NO_LEVELS:
        return binary_words(label)[1]
    when = _calendar(label, level)
    if when:
        return when if label.lower() in _CALENDAR_LABELS else f"{when} {label}"
    who = _who(level)
    if who:
        return who
    text = _lower_first(level)
    if low.startswith(("no ", "not ", "non-", "without ")):
        return text
    last = label.lower().split()[-1:]
    if last and any(w.endswith(last[0]) for w in low.split()):
        return text  # "Two year contract" of "contract" already names it
    return f"{text} {label}"


def level_clause(label: str, level: str) -> str:
    """Return what a share of customers does who hold one category level.

    The clause completes ``"62.1% ..."`` in the words of :func:`level_word`: yes/no
    levels as :func:`binary_clauses`; a level of a region, segment or tier as being
    *in* it, of a contract or plan as being *on* it; gender, marital and calendar
    levels as what customers are; any other level as a thing they have.

    Examples
    --------
    >>> level_clause("partner", "Yes"), level_clause("paperless billing", "No")
    ('have a partner', 'have no paperless billing')
    >>> level_clause("contract", "Month-to-month")
    'are on a month-to-month contract'
    >>> level_clause("internet service", "Fiber optic")
    'have fiber optic internet service'
    >>> level_clause("region", "North"), level_clause("gender", "Female")
    ('are in the north region', 'are female')
    >>> level_clause("online security", "No internet service")
    'have no internet service'
    >>> level_clause("channel", "Multichannel"), level_clause("job", "student")
    ('are multichannel', 'are students')
    """
    low = level.strip().lower()
    word = level_word(label, level)
    if label.lower() in _SELF_NAMED:
        return f"are {word}"
    if low in YES_LEVELS:
        return binary_clauses(label)[0]
    if low in NO_LEVELS:
        return binary_clauses(label)[1]
    if word in _MONTHS:
        return f"are in {word}"
    if word in _WEEKDAYS:
        return f"are on {word}"
    if word.lower().startswith("no "):
        return f"have {word}"
    last = word.split()[-1].lower()
    label_last = label.lower().split()[-1] if label.split() else ""
    # A word without the label's noun (a state, a person, "not eligible",
    # "multichannel" of "channel") says what the customers are.
    if low.startswith(("not ", "non-", "without ")) or last != label_last:
        return f"are {word}"
    if last in _IN_NOUNS:
        return f"are in the {word}"
    article = _article(word.split())
    if last in _ON_NOUNS:
        return f"are on {article}{word}"
    return f"have {article}{word}"


def to_datetime_expr(col: str, dtype: pl.DataType) -> pl.Expr:
    """Normalise a time column to naive UTC microseconds (tz-aware converted first)."""
    e = pl.col(col)
    if dtype == pl.Date:
        return e.cast(pl.Datetime("us"))
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            e = e.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return e.cast(pl.Datetime("us"))
    if dtype == pl.String:
        return e.str.to_datetime(strict=False).cast(pl.Datetime("us"))
    return e  # wrong dtypes are rejected before this by check_time_column


def check_time_column(frame: pl.DataFrame, col: str, table: str) -> None:
    """Refuse a time column that is not a date, datetime or parseable string."""
    dtype = frame.schema[col]
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return
    if dtype == pl.String:
        s = frame.get_column(col)
        try:
            parsed = s.str.to_datetime(strict=False)
        except pl.exceptions.PolarsError:  # no format fits any value
            parsed = pl.Series(col, [None] * s.len(), dtype=pl.Datetime("us"))
        bad = s.is_not_null() & parsed.is_null()
        if bad.any():
            msg = (
                f"Column {col!r} of the {table!r} table must hold dates or times; "
                f"{int(bad.sum())} values do not parse (e.g. {s.filter(bad)[0]!r})."
            )
            raise InputError(msg)
        return
    msg = (
        f"Column {col!r} of the {table!r} table must be a date or datetime; "
        f"got dtype {dtype}."
    )
    raise InputError(msg)


def normalise_as_of(as_of: Any) -> dt.datetime:
    """Return ``as_of`` as a naive UTC datetime (a date means that day's midnight)."""
    if isinstance(as_of, str):
        try:
            as_of = dt.datetime.fromisoformat(as_of)
        except ValueError as exc:
            msg = f"as_of={as_of!r} is not an ISO date or datetime (e.g. '2025-07-01')."
            raise InputError(msg) from exc
    if isinstance(as_of, dt.datetime):
        if as_of.tzinfo is not None:
            as_of = as_of.astimezone(dt.UTC).replace(tzinfo=None)
        return as_of
    if isinstance(as_of, dt.date):
        return dt.datetime(as_of.year, as_of.month, as_of.day)
    msg = f"as_of must be a date, datetime or ISO string; got {type(as_of).__name__}."
    raise InputError(msg)


def exposure_days(window_days: int) -> pl.Expr:
    """Days the customer could have been active in the window: tenure capped by it."""
    return pl.col("_tenure_days").clip(lower_bound=1.0, upper_bound=float(window_days))


def days_before(as_of: dt.datetime, col: str = "_t") -> pl.Expr:
    """Days from ``col`` to ``as_of`` as a float."""
    # Times the reciprocal, not divided by a literal: polars divides a column by a
    # literal as x * (1/c) but a one-row frame as x / c (one ulp apart), and a
    # feature must not depend on how many customers share the frame (Spark
    # buckets, streaming batches). x * (1/c) is what whole tables always got.
    return (pl.lit(as_of) - pl.col(col)).dt.total_milliseconds() * (1.0 / MS_PER_DAY)


class Builder(BaseEstimator):
    """Base of the feature builders: one table in, one row per customer out.

    A builder is a scikit-learn style estimator: ``__init__`` stores its
    parameters (the table and column names, the windows) unchanged, so
    ``get_params``, ``set_params``, ``repr`` and :func:`sklearn.base.clone` work,
    and ``type(b)(**b.get_params())`` rebuilds it. Subclasses set ``family``, take
    a ``table`` parameter, list the columns they read in ``input_columns()`` and
    the time columns in ``time_columns()``, and implement ``build`` and
    ``metadata``. ``learn`` records levels (e.g. channel names) at fit time so that
    ``assign`` emits the same columns.

    Attributes
    ----------
    family : str
        Feature family (class attribute): the key of ``BUILDERS`` and of the
        learned levels.
    table : str
        Name of the raw table the builder reads (a constructor parameter).
    """

    family: ClassVar[str] = ""
    table: str

    def input_columns(self) -> list[str]:
        """Columns this builder reads from its table."""
        raise NotImplementedError

    def numeric_columns(self) -> list[str]:
        """Columns read as numbers: text that holds numbers is parsed, junk refused.

        Default: every column but the id and the time columns. Builders override it
        so category columns (channel, severity) are never parsed as numbers, and
        10M-row text columns are not scanned for numbers for nothing.
        """
        skip = {getattr(self, "id", None), *self.time_columns().values()}
        return [c for c in self.input_columns() if c not in skip]

    def time_columns(self) -> dict[str, str]:
        """Time columns to normalise, as alias -> column; ``_t`` is the event time.

        Derived from the parameters on each call (never stored), so that
        ``set_params`` of a time column takes effect.
        """
        raise NotImplementedError

    def learn(self, events: pl.LazyFrame, as_of: Any = None) -> dict[str, Any]:
        """Levels learned on the training window; empty for most builders.

        The default reads the events through :meth:`summarise` and
        :meth:`learn_from`, so the levels can be learned on parts of the events
        (Spark partitions) and merged: a builder that learns levels overrides those
        two, not this method.
        """
        return self.learn_from([self.summarise(events, as_of)])

    def summarise(self, events: pl.LazyFrame, as_of: Any = None) -> pl.DataFrame:
        """Return the small table :meth:`learn_from` reads instead of the events.

        Summaries of disjoint parts of the events, handed to :meth:`learn_from`
        together, learn the same levels as the whole events (counts that add up,
        flags that combine), and a concatenation (``pl.concat``) of summaries is a
        summary of the parts together: this is how
        :func:`segdiscover.spark.build_features` learns levels without bringing
        events to the driver. Empty by default.
        """
        return pl.DataFrame()

    def learn_from(self, summaries: Sequence[pl.DataFrame]) -> dict[str, Any]:
        """Levels from the :meth:`summarise` output of one or more parts."""
        return {}

    def build(
        self, events: pl.LazyFrame, base: pl.LazyFrame, ctx: Mapping[str, Any]
    ) -> pl.LazyFrame:
        """Return features keyed by ``_id`` from events already cut at ``as_of``."""
        raise NotImplementedError

    def metadata(self, levels: Mapping[str, Any]) -> list[FeatureMeta]:
        """Metadata for every column ``build`` emits."""
        raise NotImplementedError


class GroupedBuilder(Builder):
    """A builder whose features are one ``group_by("_id")`` of its events plus a finish.

    Subclasses implement ``plan`` (columns added to the events before grouping, and
    per-customer aggregations, each restricted to its own window) and ``finish``
    (features from the customer universe joined with the aggregations).
    :class:`FeatureSet` then computes the aggregations of every such builder that
    reads the same table in *one* ``group_by`` (one pass over the events instead of
    one per builder); ``build`` runs one builder on its own, with the same result.

    Names: added columns may be shared between builders only when their
    expressions are equal; aggregation names must be distinct (builders whose names
    clash are grouped separately). ``finish`` must keep the rows of the frame it gets
    (``with_columns`` / ``select`` only) and return ``_id`` plus the feature columns.
    """

    def plan(
        self, events: pl.LazyFrame, ctx: Mapping[str, Any]
    ) -> tuple[list[pl.Expr], list[pl.Expr]]:
        """Columns to add to the events before grouping, and the aggregations.

        The added columns (named expressions) are evaluated in one
        ``with_columns``, so they may not refer to each other. Masking a column to a
        window (``when(in window).then(x)``, see :func:`in_window`) there keeps the
        aggregations plain (``sum``, ``mean``, ``min`` skip nulls), which polars
        computes much faster than ``x.filter(...).sum()`` per group.
        """
        raise NotImplementedError

    def finish(self, frame: pl.LazyFrame, ctx: Mapping[str, Any]) -> pl.LazyFrame:
        """Features from the universe (``_id``, ``_tenure_days``) + aggregations."""
        raise NotImplementedError

    def build(
        self, events: pl.LazyFrame, base: pl.LazyFrame, ctx: Mapping[str, Any]
    ) -> pl.LazyFrame:
        """Build this family's features (see the class docstring)."""
        prep, aggs = self.plan(events, ctx)
        g = events.with_columns(prep).group_by("_id").agg(aggs)
        return self.finish(
            base.join(g, on="_id", how="left", maintain_order="left"), ctx
        )


def exact_sum(expr: pl.Expr) -> pl.Expr:
    """Sum that does not depend on row order (Float64 out).

    Float sums depend on the order rows reach a group, which polars' joins and
    hash group-bys do not fix, so a feature could differ in its last bit from run to
    run and flip ties downstream (surrogate bins, names). A 38-digit decimal with 6
    decimals sums exactly, at the speed of a float sum; amounts are kept to 1e-6.
    """
    return expr.cast(pl.Decimal(38, 6)).sum().cast(pl.Float64)


def exact_mean(expr: pl.Expr) -> pl.Expr:
    """Mean of the non-null values through :func:`exact_sum` (null when none)."""
    n = expr.count()
    return pl.when(n > 0).then(exact_sum(expr) / n).otherwise(None)


def in_window(
    as_of: dt.datetime, days: float, col: str, expr: pl.Expr | None = None
) -> pl.Expr:
    """``col`` (or ``expr``) on the events at most ``days`` before ``as_of``, else null.

    Named ``_w{days}_{col}`` so that builders masking the same column to the same
    window share one prepared column.
    """
    e = pl.col(col) if expr is None else expr
    return (
        pl.when(days_before(as_of) <= days)
        .then(e)
        .otherwise(None)
        .alias(f"_w{days}_{col}")
    )


#: Most distinct values counted with bit masks (``bit_words``) instead of n_unique.
MAX_BITS = 256


def bit_words(index: pl.Expr, n: int, name: str) -> list[pl.Expr]:
    """One-hot bit words (UInt64) of an integer ``index`` in ``[0, n)`` (null: none).

    OR-ing them per customer (``bitwise_or``) and counting the set bits
    (``popcount``) counts the distinct values exactly, far faster than a per-group
    ``n_unique``.
    """
    out = []
    for j in range((n + 63) // 64):
        k = index - 64 * j
        out.append(
            pl.when((k >= 0) & (k < 64))
            .then(pl.lit(2, pl.UInt64).pow(k.cast(pl.UInt64)))
            .otherwise(None)
            .alias(f"{name}_{j}")
        )
    return out


def popcount(names: list[str]) -> pl.Expr:
    """Set bits over the OR-ed words ``names`` (null words count 0)."""
    return pl.sum_horizontal(
        [pl.col(c).bitwise_count_ones().fill_null(0).cast(pl.Int64) for c in names]
    )
