"""Features as of a moment: each window at its boundary day, each input's "no data" case.

`UsageWindow` folds usage rows (login days over the last 30 days, active users as the 7-day high,
the 14-day usage change); `payments_on_time` judges invoices due in the last 183 days; and
`build_features` adds critical tickets open at `at`, the last NPS answer, seat growth and the
contract days. Ages below are days before the as-of day (0 = the as-of day itself).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from healthsync.model import Account, Features, Payment, Rating, RatingKind, Ticket, UsageDay
from healthsync.sync.features import (
    LOGIN_WINDOW_DAYS,
    PAYMENT_WINDOW_DAYS,
    USAGE_WINDOW_DAYS,
    NpsKept,
    PaymentsFold,
    UsageSummary,
    UsageWindow,
    build_features,
    payments_on_time,
)

AS_OF = date(2026, 3, 31)
AT = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
"""The instant measured; its date is AS_OF."""
KEY = "acct"


def day(age: int) -> date:
    return AS_OF - timedelta(days=age)


def row(age: int, users: int = 1, logins: int = 1, key: str = KEY) -> UsageDay:
    return UsageDay(key, day(age), users, logins)


def window(*rows: UsageDay) -> UsageWindow:
    folded = UsageWindow(AS_OF)
    folded.add(rows)
    return folded


def fold(*rows: UsageDay) -> UsageSummary:
    return window(*rows).summaries[KEY]


def features(
    account: Account | None = None,
    *,
    usage: UsageSummary | None = None,
    tickets: list[Ticket] | None = None,
    ratings: list[Rating] | None = None,
    payments: list[Payment] | None = None,
    previous_licenses: int | None = None,
) -> Features:
    return build_features(
        account or Account("001", "Acme"),
        key=KEY,
        at=AT,
        usage=usage,
        tickets=tickets,
        ratings=ratings,
        payments=payments,
        previous_licenses=previous_licenses,
    )


# --- the usage window ----------------------------------------------------------------------------


def test_the_window_reads_the_30_days_ending_on_the_as_of_day() -> None:
    assert LOGIN_WINDOW_DAYS == 30
    assert USAGE_WINDOW_DAYS == 30
    assert UsageWindow(AS_OF).start == date(2026, 3, 2)


def test_login_days_count_day_29_back_and_not_day_30() -> None:
    folded = window(row(0), row(29), row(30))
    assert folded.summaries[KEY].login_days == 2
    assert folded.summaries[KEY].days_seen == 2


@pytest.mark.parametrize(
    "age", [30, 31, 365, -1, -30], ids=["day-30", "day-31", "a-year-back", "tomorrow", "next-month"]
)
def test_rows_outside_the_window_are_ignored(age: int) -> None:
    assert window(row(age, users=50, logins=9)).summaries == {}


def test_a_day_without_a_login_is_not_a_login_day() -> None:
    summary = fold(row(0, users=4, logins=0), row(1, users=2, logins=3))
    assert summary.login_days == 1
    assert summary.days_seen == 2


def test_accounts_are_folded_apart() -> None:
    folded = window(row(0, users=3, key="a"), row(1, users=5, key="a"), row(0, users=7, logins=0, key="b"))
    assert folded.summaries == {
        "a": UsageSummary(login_days=2, active_users=5, recent_users=8, earlier_users=0, days_seen=2),
        "b": UsageSummary(login_days=0, active_users=7, recent_users=7, earlier_users=0, days_seen=1),
    }


def test_rows_arriving_in_several_batches_fold_into_one_summary() -> None:
    folded = UsageWindow(AS_OF)
    folded.add([row(0, users=2)])
    folded.add([row(20, users=6)])
    assert folded.summaries[KEY] == UsageSummary(
        login_days=2, active_users=2, recent_users=2, earlier_users=6, days_seen=2
    )


def test_active_users_are_the_high_of_the_last_7_days_so_a_weekend_dip_does_not_lower_them() -> None:
    summary = fold(
        row(0, users=2),  # Sunday
        row(1, users=3),  # Saturday
        row(2, users=10),  # Friday
        row(6, users=9),  # the oldest day of the 7
        row(7, users=50),  # a day too old for the 7-day high
    )
    assert summary.active_users == 10


def test_active_users_read_day_6_back_and_not_day_7() -> None:
    assert fold(row(6, users=9), row(7, users=50)).active_users == 9


def test_usage_change_compares_days_0_to_13_with_days_14_to_27() -> None:
    summary = fold(
        row(0, users=3),
        row(13, users=3),  # the oldest recent day
        row(14, users=4),  # the newest earlier day
        row(27, users=8),  # the oldest earlier day
        row(28, users=100),  # in the login window, in neither half
        row(29, users=100),
    )
    assert (summary.recent_users, summary.earlier_users) == (6, 12)
    assert features(usage=summary).usage_change_14d == -0.5


@pytest.mark.parametrize(
    ("recent", "earlier", "change"),
    [(5, 10, -0.5), (15, 10, 0.5), (10, 10, 0.0), (0, 10, -1.0), (1, 3, -0.6667), (2, 3, -0.3333)],
)
def test_usage_change_is_last14_minus_prev14_over_prev14_to_4_decimals(
    recent: int, earlier: int, change: float
) -> None:
    summary = fold(row(0, users=recent), row(14, users=earlier))
    assert features(usage=summary).usage_change_14d == change


@pytest.mark.parametrize(
    "rows",
    [
        [row(0, users=5)],
        [row(0, users=5), row(14, users=0), row(27, users=0)],
        [row(0, users=5), row(28, users=9), row(29, users=9)],
    ],
    ids=["no-earlier-rows", "earlier-rows-with-no-users", "only-days-28-29-before"],
)
def test_usage_change_is_none_when_the_previous_14_days_had_no_usage(rows: list[UsageDay]) -> None:
    assert features(usage=fold(*rows)).usage_change_14d is None


def test_usage_summary_becomes_login_days_and_active_users() -> None:
    summary = fold(row(0, users=4), row(3, users=6, logins=0), row(20, users=9))
    built = features(usage=summary)
    assert (built.login_days_30d, built.active_users) == (2, 6)


# --- payments ------------------------------------------------------------------------------------


def payment(due_age: int, paid_age: int | None) -> Payment:
    return Payment(KEY, day(due_age), day(paid_age) if paid_age is not None else None)


@pytest.mark.parametrize(
    ("due_age", "paid_age", "verdict"),
    [
        (10, 10, True),  # paid on the due date
        (10, 15, True),  # paid early
        (10, 9, False),  # paid a day late
        (10, None, False),  # overdue and unpaid
        (0, None, None),  # due today, not yet late
        (1, None, False),  # due yesterday, unpaid
        (10, -1, False),  # paid tomorrow: unpaid on the as-of day, so overdue
        (0, -1, None),  # due today, paid tomorrow: not yet late on the as-of day
        (-5, -10, None),  # due after the as-of day: not counted
        (-5, None, None),
    ],
)
def test_one_invoice(due_age: int, paid_age: int | None, verdict: bool | None) -> None:
    assert payments_on_time([payment(due_age, paid_age)], AS_OF) is verdict


def test_the_payment_window_is_183_days() -> None:
    assert PAYMENT_WINDOW_DAYS == 183


@pytest.mark.parametrize(("due_age", "verdict"), [(182, False), (183, False), (184, None), (400, None)])
def test_a_late_invoice_counts_when_due_up_to_183_days_back(due_age: int, verdict: bool | None) -> None:
    assert payments_on_time([payment(due_age, due_age - 3)], AS_OF) is verdict


def test_one_late_invoice_among_on_time_ones_is_false() -> None:
    assert payments_on_time([payment(90, 90), payment(60, 65), payment(30, 31)], AS_OF) is True
    assert payments_on_time([payment(90, 90), payment(60, 65), payment(30, 29)], AS_OF) is False


def test_a_late_invoice_outside_the_window_does_not_spoil_the_ones_inside() -> None:
    assert payments_on_time([payment(200, 150), payment(30, 30)], AS_OF) is True


def test_no_invoice_due_is_no_data() -> None:
    assert payments_on_time([], AS_OF) is None


def test_payments_reach_the_features_as_of_the_day_of_at() -> None:
    assert features(payments=[payment(10, 10)]).payments_on_time_6m is True
    assert features(payments=[payment(10, 9)]).payments_on_time_6m is False
    assert features(payments=[]).payments_on_time_6m is None


INVOICES = {
    "on time": [payment(90, 90), payment(60, 65), payment(30, 31)],
    "one late": [payment(90, 90), payment(60, 65), payment(30, 29)],
    "late first": [payment(30, 29), payment(90, 90)],
    "late outside the window": [payment(200, 150), payment(30, 30)],
    "none due yet": [payment(-5, None), payment(0, None)],
    "outside only": [payment(400, 300)],
    "overdue": [payment(10, None), payment(20, 20)],
    "paid after the day": [payment(10, -1)],
}


def test_folded_invoices_give_the_verdict_of_the_whole_list() -> None:
    fold = PaymentsFold(AS_OF)
    batches = [
        [replace(p, account_key=name) for p in invoices[i : i + 1]]
        for name, invoices in INVOICES.items()
        for i in range(len(invoices))
    ]
    for batch in batches[::2] + batches[1::2]:  # any order, any batching
        fold.add(batch)
    assert fold.verdicts == {name: payments_on_time(invoices, AS_OF) for name, invoices in INVOICES.items()}
    assert fold.verdicts["outside only"] is None  # seen, nothing due: no data, as an empty list gives


def test_a_folded_verdict_reaches_the_features_when_no_invoices_are_given() -> None:
    built = build_features(
        Account("001", "Acme"),
        key=KEY,
        at=AT,
        usage=None,
        tickets=None,
        ratings=None,
        payments=None,
        previous_licenses=None,
        payments_verdict=False,
    )
    assert built.payments_on_time_6m is False
    assert features(payments=None).payments_on_time_6m is None


# --- critical tickets ----------------------------------------------------------------------------


def ticket(
    ticket_id: str,
    age_days: float,
    *,
    status: str = "open",
    critical: bool = True,
    solved_at: datetime | None = None,
    updated_at: datetime | None = None,
    deleted: bool = False,
) -> Ticket:
    created = AT - timedelta(days=age_days)
    return Ticket(
        id=ticket_id,
        organization_id="org-1",
        priority="urgent" if critical else "normal",
        status=status,
        is_critical=critical,
        created_at=created,
        updated_at=updated_at or created,
        solved_at=solved_at,
        deleted=deleted,
    )


def critical(tickets: list[Ticket] | None) -> tuple[int | None, float | None, str | None]:
    built = features(tickets=tickets)
    return built.open_critical_tickets, built.oldest_critical_ticket_age_days, built.oldest_critical_ticket_id


def test_an_open_critical_ticket_counts_with_its_age_in_calendar_days_from_created_at() -> None:
    # AT is 12:00 UTC: 9.5 days back is 00:00 nine days earlier, so nine calendar days.
    assert critical([ticket("7", 9.5)]) == (1, 9.0, "7")


def test_age_counts_calendar_days_so_two_syncs_on_one_day_agree() -> None:
    # Created 7 days and 13 hours before noon: 23:00 eight days back, which is 8 calendar days,
    # and stays 8 whether the sync runs at 00:30 or at 23:30 that day.
    created = AT - timedelta(days=7, hours=13)
    for at in (AT.replace(hour=0, minute=30), AT.replace(hour=23, minute=30)):
        built = build_features(
            Account(crm_id=KEY, name="Acme"),
            key=KEY,
            at=at,
            usage=None,
            tickets=[replace(ticket("7", 0), created_at=created, updated_at=created)],
            ratings=None,
            payments=None,
            previous_licenses=None,
        )
        assert built.oldest_critical_ticket_age_days == 8.0


def test_the_oldest_open_ticket_gives_the_age_and_id() -> None:
    assert critical([ticket("1", 2), ticket("2", 12.25), ticket("3", 5)]) == (3, 12.0, "2")


def test_tickets_created_at_the_same_instant_pick_the_smaller_id() -> None:
    assert critical([ticket("b", 4), ticket("a", 4)]) == (2, 4.0, "a")


def test_a_ticket_solved_after_at_was_open_at_at() -> None:
    solved_later = ticket("1", 3, status="solved", solved_at=AT + timedelta(hours=1))
    assert critical([solved_later]) == (1, 3.0, "1")


def test_a_ticket_solved_at_or_before_at_was_not_open() -> None:
    solved_at_at = ticket("1", 3, status="solved", solved_at=AT)
    solved_before = ticket("2", 3, status="closed", solved_at=AT - timedelta(seconds=1))
    assert critical([solved_at_at, solved_before]) == (0, None, None)


def test_a_solved_ticket_without_a_solved_stamp_is_judged_by_its_last_update() -> None:
    updated_later = ticket("1", 3, status="solved", updated_at=AT + timedelta(minutes=1))
    updated_before = ticket("2", 3, status="solved", updated_at=AT - timedelta(minutes=1))
    assert critical([updated_later, updated_before]) == (1, 3.0, "1")


def test_a_ticket_created_after_at_is_not_open_at_at() -> None:
    assert critical([ticket("1", -0.5)]) == (0, None, None)


def test_deleted_and_non_critical_tickets_are_ignored() -> None:
    tickets = [
        ticket("old-deleted", 30, deleted=True),
        ticket("old-normal", 20, critical=False),
        ticket("3", 1),
    ]
    assert critical(tickets) == (1, 1.0, "3")


def test_no_ticket_open_is_zero_and_a_missing_ticket_source_is_no_data() -> None:
    assert critical([]) == (0, None, None)
    assert critical(None) == (None, None, None)


# --- NPS -----------------------------------------------------------------------------------------


def nps(score: int, at: datetime, rating_id: str | None = None, kind: RatingKind = RatingKind.NPS) -> Rating:
    return Rating(KEY, kind, score, at, rating_id)


def test_the_last_nps_answer_at_or_before_at_wins() -> None:
    built = features(
        ratings=[
            nps(9, AT - timedelta(days=10)),
            nps(3, AT),  # at exactly `at`: counts
            nps(10, AT + timedelta(seconds=1)),  # after `at`: not yet given
            nps(1, AT - timedelta(hours=1), kind=RatingKind.CSAT),  # not an NPS answer
        ]
    )
    assert (built.last_nps, built.last_nps_at) == (3, AS_OF)


def test_the_answer_date_is_the_day_it_was_given() -> None:
    built = features(ratings=[nps(8, datetime(2026, 2, 14, 23, 59, tzinfo=UTC))])
    assert (built.last_nps, built.last_nps_at) == (8, date(2026, 2, 14))


def test_answers_at_the_same_instant_pick_the_larger_id() -> None:
    stamp = AT - timedelta(days=1)
    assert features(ratings=[nps(2, stamp, "r-2"), nps(9, stamp, "r-1")]).last_nps == 2


def test_kept_nps_answers_are_the_recent_ones_and_the_last_one_by_at() -> None:
    recent_since = AT - timedelta(days=30)
    answers = [
        nps(4, AT - timedelta(days=200), "a"),
        nps(9, AT - timedelta(days=40), "b"),  # the last one by `at` among the old ones
        nps(2, AT - timedelta(days=40), "a2"),  # same instant, lower id: not the last
        nps(7, AT - timedelta(days=10), "c"),
        nps(5, AT + timedelta(days=1), "d"),  # after `at`, but recent: mirrored
        nps(1, AT - timedelta(days=90), kind=RatingKind.CSAT),
    ]
    kept = NpsKept(AT, recent_since)
    kept.add(answers[:3])
    kept.add(answers[3:])
    assert kept.result() == {KEY: [answers[3], answers[4], answers[1]]}
    older_only = NpsKept(AT, recent_since)
    older_only.add(answers[:3])
    (held,) = older_only.result()[KEY]
    assert held == answers[1] == max(answers[:3], key=lambda r: (r.at, r.id or ""))


@pytest.mark.parametrize("recent_days", [0, 5, 15, 45, 400])
def test_kept_nps_answers_give_the_same_last_answer(recent_days: int) -> None:
    answers = [
        nps(s, AT - timedelta(days=d), f"r{d}") for s, d in [(3, 60), (9, 20), (6, 8), (2, 1), (8, -2)]
    ]
    kept = NpsKept(AT, AT - timedelta(days=recent_days))
    kept.add(answers)
    assert features(ratings=kept.result()[KEY]).last_nps == features(ratings=answers).last_nps == 2


@pytest.mark.parametrize(
    "ratings", [[], None, [nps(9, AT + timedelta(days=1))], [nps(1, AT, kind=RatingKind.CSAT)]]
)
def test_without_an_nps_answer_by_at_there_is_no_last_nps(ratings: list[Rating] | None) -> None:
    built = features(ratings=ratings)
    assert (built.last_nps, built.last_nps_at) == (None, None)


# --- account facts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("licenses", "previous", "growth"),
    [(12, 10, 2), (10, 15, -5), (10, 10, 0), (10, None, None), (None, 10, None)],
)
def test_seat_growth_is_licenses_minus_the_previous_snapshots(
    licenses: int | None, previous: int | None, growth: int | None
) -> None:
    built = features(Account("001", "Acme", licenses=licenses), previous_licenses=previous)
    assert (built.licenses, built.seat_growth) == (licenses, growth)


def test_contract_days_count_from_the_day_of_at() -> None:
    account = Account("001", "Acme", contract_start=date(2026, 3, 1), contract_end=date(2026, 5, 15))
    built = features(account)
    assert (built.days_since_contract_start, built.days_to_contract_end) == (30, 45)
    assert (built.contract_start, built.contract_end) == (date(2026, 3, 1), date(2026, 5, 15))


def test_a_contract_that_ended_has_negative_days_to_end_and_one_starting_later_negative_days_since() -> None:
    account = Account("001", "Acme", contract_start=date(2026, 4, 2), contract_end=date(2026, 3, 30))
    built = features(account)
    assert (built.days_since_contract_start, built.days_to_contract_end) == (-2, -1)


def test_with_no_inputs_every_feature_is_no_data() -> None:
    assert features() == Features(account=KEY)


def test_everything_at_once() -> None:
    account = Account(
        "001",
        "Acme",
        licenses=20,
        contract_start=date(2025, 4, 1),
        contract_end=date(2026, 4, 1),
        segment="Enterprise",
    )
    built = build_features(
        account,
        key=KEY,
        at=AT,
        usage=fold(row(0, users=8), row(1, users=12), row(14, users=40)),
        tickets=[ticket("9", 8.25)],
        ratings=[nps(6, AT - timedelta(days=3))],
        payments=[payment(40, 41)],
        previous_licenses=18,
        extra={"seats_used": 11},
    )
    assert built == Features(
        account=KEY,
        login_days_30d=3,
        active_users=12,
        licenses=20,
        open_critical_tickets=1,
        oldest_critical_ticket_age_days=8.0,
        oldest_critical_ticket_id="9",
        last_nps=6,
        last_nps_at=date(2026, 3, 28),
        payments_on_time_6m=True,
        usage_change_14d=-0.5,
        seat_growth=2,
        days_since_contract_start=364,
        days_to_contract_end=1,
        contract_start=date(2025, 4, 1),
        contract_end=date(2026, 4, 1),
        segment="Enterprise",
        extra={"seats_used": 11},
    )


def test_the_value_day_is_the_first_day_on_or_after_the_start_with_enough_active_users() -> None:
    # Milestone: 5 active users (50 % of 10 licenses), counted from the contract start 20 days back.
    folded = UsageWindow(AS_OF, milestones={KEY: (5, day(20))})
    # Day 25 back had 9 users but precedes the start; day 12 back is the first qualifying day after it.
    folded.add([row(3, users=8), row(25, users=9), row(15, users=4), row(12, users=5), row(9, users=7)])
    assert folded.summaries[KEY].value_day == day(12)
    assert fold(row(1, users=50)).value_day is None  # no milestone asked for this account


def test_value_milestones_match_normalised_keys() -> None:
    folded = UsageWindow(AS_OF, milestones={"acme.com": (1, day(10))}, normalize=str.lower)
    folded.add([row(4, users=1, key="ACME.com")])
    assert folded.summaries["ACME.com"].value_day == day(4)
