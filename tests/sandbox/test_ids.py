"""Salesforce-style ids: key prefix, counter and the case-safe checksum."""

from __future__ import annotations

from sfsync.sandbox.ids import checksum, make_id, normalize_id


def test_checksum_matches_a_known_salesforce_id() -> None:
    # 001xx000003DGb2 -> 001xx000003DGb2AAG is the documentation's example Account id.
    assert checksum("001xx000003DGb2") == "AAG"


def test_made_ids_carry_prefix_and_checksum() -> None:
    record_id = make_id("500", 12345)

    assert len(record_id) == 18
    assert record_id.startswith("500")
    assert record_id[15:] == checksum(record_id[:15])


def test_normalize_extends_15_character_ids() -> None:
    assert normalize_id("001xx000003DGb2") == "001xx000003DGb2AAG"


def test_normalize_rejects_bad_ids() -> None:
    assert normalize_id("001xx000003DGb2ZZZ") is None
    assert normalize_id("short") is None
    assert normalize_id("001xx000003DGb-AAG") is None


def test_normalize_accepts_the_checksum_in_any_case() -> None:
    assert normalize_id("001xx000003DGb2aag") == "001xx000003DGb2AAG"


def test_different_counters_give_different_ids() -> None:
    assert len({make_id("001", n) for n in range(1000)}) == 1000
