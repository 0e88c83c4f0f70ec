"""Why a Case is stale, read from the ledger, and the Escalation_Reason__c sentence."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from sfsync.domain import Outcome, OutcomeKind, Promise, PromiseStatus
from sfsync.escalation import (
    REASON_MAX_LENGTH,
    Age,
    CaseLedger,
    Reason,
    ReasonKind,
    reason_sentence,
    stale_reasons,
    truncate_text,
    unanswered_attempts,
)

START = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def _attempts(*kinds: OutcomeKind) -> tuple[Outcome, ...]:
    return tuple(
        Outcome(f"erp:C1:USD:1:step{n}", kind, START + timedelta(days=n))
        for n, kind in enumerate(kinds)
    )


def _promise(ident: str, promised: date, status: PromiseStatus) -> Promise:
    return Promise(ident, "USD", Decimal(500), promised, promised - timedelta(days=7), status)


def _texts(ledger: CaseLedger, attempts: int = 3) -> list[str]:
    return [reason.text for reason in stale_reasons(ledger, attempts)]


def test_a_case_nobody_worked_says_no_contact_logged() -> None:
    assert stale_reasons(CaseLedger(), 3) == (Reason(ReasonKind.NO_CONTACT, "no contact logged"),)
    assert CaseLedger().last_contact is None


def test_every_reason_is_listed_in_order() -> None:
    ledger = CaseLedger(
        promises=(_promise("P1", date(2026, 11, 10), PromiseStatus.BROKEN),),
        disputed_invoices=2,
    )

    assert _texts(ledger) == [
        "no contact logged",
        "promise broken on 2026-11-10",
        "dispute open on 2 invoices",
    ]


def test_several_broken_promises_name_the_count_and_the_latest() -> None:
    ledger = CaseLedger(
        attempts=_attempts(OutcomeKind.PROMISE_TO_PAY),
        promises=(
            _promise("P2", date(2026, 11, 20), PromiseStatus.BROKEN),
            _promise("P1", date(2026, 11, 5), PromiseStatus.BROKEN),
            _promise("P3", date(2026, 11, 25), PromiseStatus.KEPT),
        ),
        disputed_invoices=1,
    )

    assert _texts(ledger) == ["2 promises broken, last on 2026-11-20", "dispute open on 1 invoice"]


def test_no_response_counts_unanswered_attempts_since_the_customer_last_replied() -> None:
    replied_then_silent = _attempts(
        OutcomeKind.NO_ANSWER,
        OutcomeKind.REFUSED,  # the customer answered: the count starts again
        OutcomeKind.NO_ANSWER,
        OutcomeKind.LEFT_VOICEMAIL,
        OutcomeKind.WRONG_CONTACT,
    )
    ledger = CaseLedger(attempts=tuple(reversed(replied_then_silent)))  # any order

    assert unanswered_attempts(ledger.attempts) == 3
    assert _texts(ledger) == ["no response after 3 attempts"]
    assert ledger.last_contact == START + timedelta(days=4)


def test_fewer_unanswered_attempts_than_the_policy_says_is_not_no_response() -> None:
    ledger = CaseLedger(attempts=_attempts(OutcomeKind.NO_ANSWER, OutcomeKind.NO_ANSWER))

    assert _texts(ledger, attempts=3) == ["contacted but still unresolved"]
    assert _texts(ledger, attempts=2) == ["no response after 2 attempts"]


def test_a_contacted_case_with_nothing_wrong_is_still_unresolved() -> None:
    ledger = CaseLedger(attempts=_attempts(OutcomeKind.PAYMENT_PLAN))

    assert stale_reasons(ledger, 3) == (
        Reason(ReasonKind.UNRESOLVED, "contacted but still unresolved"),
    )


def test_the_sentence_gives_the_age_and_the_reasons() -> None:
    reasons = stale_reasons(CaseLedger(disputed_invoices=3), 3)

    assert (
        reason_sentence(Age("business", 15, 0), reasons)
        == "Open 15 business days: no contact logged; dispute open on 3 invoices."
    )


def test_a_long_sentence_is_cut_at_a_word_within_255_characters() -> None:
    many = tuple(Reason(ReasonKind.PROMISE_BROKEN, f"promise broken on day {n}") for n in range(40))

    sentence = reason_sentence(Age("calendar", 400, 0), many)

    assert len(sentence) <= REASON_MAX_LENGTH
    assert sentence.endswith("…")
    assert sentence.startswith("Open 400 calendar days: promise broken on day 0; ")
    kept = sentence.removesuffix("…")
    assert f"Open 400 calendar days: {'; '.join(r.text for r in many)}.".startswith(kept)
    assert not kept.endswith((" ", ";"))


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short enough", 12, "short enough"),
        ("one two three four", 12, "one two…"),
        ("x" * 20, 10, "x" * 9 + "…"),  # one long word: cut inside it rather than lose it all
        ("ab cdefghijklmnop", 10, "ab cdefgh…"),  # a space too early is not worth losing the rest
    ],
)
def test_truncation_keeps_within_the_limit(text: str, limit: int, expected: str) -> None:
    assert truncate_text(text, limit) == expected
    assert len(truncate_text(text, limit)) <= limit
