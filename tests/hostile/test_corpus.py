"""Every hostile-input case obeys the rules (see hostile_driver's docstring)."""

from __future__ import annotations

from collections import Counter

import pytest
from hostile_corpus import CASES
from hostile_driver import run_case


def test_corpus_is_large_and_unique():
    ids = [c.id for c in CASES]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids), [k for k, n in Counter(ids).items() if n > 1]
    assert len({c.category for c in CASES}) >= 10


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_obeys_the_rules(case, tmp_path):
    result = run_case(case, tmp_path)
    assert not result.violations, "\n".join(result.violations)
