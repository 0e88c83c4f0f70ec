"""Property checks for ids: every made id normalises to itself, and any case-mangling of the
checksum or a 15-character prefix still names the same record."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from sfsync.sandbox.ids import make_id, normalize_id

prefixes = st.text(alphabet=string.digits + string.ascii_letters, min_size=3, max_size=3)
counters = st.integers(min_value=0, max_value=62**10 - 1)


@given(prefixes, counters)
def test_made_ids_are_their_own_normal_form(prefix: str, counter: int) -> None:
    record_id = make_id(prefix, counter)

    assert normalize_id(record_id) == record_id
    assert normalize_id(record_id[:15]) == record_id
    assert normalize_id(record_id[:15] + record_id[15:].lower()) == record_id


@given(prefixes, counters, counters)
def test_distinct_counters_give_distinct_ids(prefix: str, first: int, second: int) -> None:
    assert (make_id(prefix, first) == make_id(prefix, second)) == (first == second)
