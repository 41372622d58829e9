"""Features: what scoring reads about one account, computed from the pulled records (DESIGN.md 4).

Usage is the bulky input (accounts x days), so it is folded row by row into a few counters per
account (`UsageSummary`) as it streams from the usage source: a run never holds the raw days.
Invoices are folded the same way, to the one verdict scoring reads (`PaymentsFold`), and NPS
answers are kept only as far as a run reads them (`NpsKept`). Everything else is small per account
and handed over whole.

Every feature is measured *as of* a moment, so a backfill or a simulation (`--as-of`) sees the
account as it stood then: usage up to that day, tickets open at that moment, the last NPS answer
given by then. A feature with no input stays None ("no data"), never zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from healthsync.model import Account, Features, Payment, Rating, RatingKind, Ticket, UsageDay

__all__ = [
    "LOGIN_WINDOW_DAYS",
    "PAYMENT_WINDOW_DAYS",
    "USAGE_WINDOW_DAYS",
    "NpsKept",
    "PaymentsFold",
    "UsageSummary",
    "UsageWindow",
    "build_features",
    "payments_on_time",
]

LOGIN_WINDOW_DAYS = 30
"""Login days are counted over the last 30 days, the as-of day included."""

ACTIVE_USERS_WINDOW_DAYS = 7
"""Active users are the highest daily count of the last 7 days: a weekday level, not a weekend dip."""

CHANGE_WINDOW_DAYS = 14
"""Usage change compares the last 14 days with the 14 before."""

USAGE_WINDOW_DAYS = max(LOGIN_WINDOW_DAYS, 2 * CHANGE_WINDOW_DAYS)
"""How many days of usage a run reads."""

PAYMENT_WINDOW_DAYS = 183
"""Payments count when due in the last six months."""


@dataclass(slots=True)
class UsageSummary:
    """One account's usage, folded to what the features need."""

    login_days: int = 0
    active_users: int | None = None
    recent_users: int = 0
    earlier_users: int = 0
    days_seen: int = 0
    value_day: date | None = None
    """First day in the window that met the account's value milestone (see `UsageWindow.milestones`)."""


@dataclass
class UsageWindow:
    """Folds streamed `UsageDay` rows into one `UsageSummary` per account for the window ending `as_of`."""

    as_of: date
    summaries: dict[str, UsageSummary] = field(default_factory=dict)
    milestones: Mapping[str, tuple[int, date]] = field(default_factory=dict)
    """Per usage key, the active users that mean "the customer gets value" and the contract start
    they count from; the fold notes the first such day (the report's time to value)."""
    normalize: Callable[[str], str] | None = None
    """How a row's account key becomes a `milestones` key (domains and names are normalised)."""

    @property
    def start(self) -> date:
        """The first day the window reads."""
        return self.as_of - timedelta(days=USAGE_WINDOW_DAYS - 1)

    def add(self, rows: Iterable[UsageDay]) -> None:
        """Fold rows in; rows outside the window are ignored.

        Rows are one per account and day, as the usage sources give them (they aggregate in the
        database): a day given twice would count twice. An account with rows only outside the last
        7 days has 0 active users, not "no data": the source knows it and saw nobody.
        """
        # The hottest loop of a run (every account x every day): names are bound locally, and a
        # key is normalised once per run of rows for its account (sources give rows by account).
        as_of, summaries, milestones, normalize = self.as_of, self.summaries, self.milestones, self.normalize
        window, logins_window, users_window, change_window = (
            USAGE_WINDOW_DAYS,
            LOGIN_WINDOW_DAYS,
            ACTIVE_USERS_WINDOW_DAYS,
            CHANGE_WINDOW_DAYS,
        )
        last_key: str | None = None
        milestone: tuple[int, date] | None = None
        for row in rows:
            day = row.day
            age = (as_of - day).days  # 0 = the as-of day
            if not 0 <= age < window:
                continue
            key = row.account_key
            summary = summaries.get(key)
            if summary is None:
                summary = summaries[key] = UsageSummary(active_users=0)
            users = row.active_users
            summary.days_seen += 1
            if age < logins_window and row.logins > 0:
                summary.login_days += 1
            if age < users_window:
                held = summary.active_users or 0
                summary.active_users = users if users > held else held
            if age < change_window:
                summary.recent_users += users
            elif age < 2 * change_window:
                summary.earlier_users += users
            if not milestones:
                continue
            if key != last_key:
                last_key = key
                milestone = milestones.get(key if normalize is None else normalize(key))
            if (
                milestone is not None
                and day >= milestone[1]
                and users >= milestone[0]
                and (summary.value_day is None or day < summary.value_day)
            ):
                summary.value_day = day


def _payment_verdict(payment: Payment, as_of: date, start: date) -> bool | None:
    """One invoice's verdict at `as_of` (None: not due in the window, or not due yet)."""
    if not start <= payment.due_date <= as_of:
        return None
    if payment.paid_date is not None and payment.paid_date > as_of:
        payment = Payment(payment.account_key, payment.due_date, None)
    return payment.on_time(as_of)


def payments_on_time(payments: Iterable[Payment], as_of: date) -> bool | None:
    """True when every invoice due in the last six months was paid by its due date.

    False as soon as one was paid late or is overdue at `as_of`; None when none fell due (no data).
    A payment made after `as_of` counts as unpaid on that day, so a backfill sees what was known then.
    """
    start = as_of - timedelta(days=PAYMENT_WINDOW_DAYS)
    verdicts: list[bool] = []
    for payment in payments:
        verdict = _payment_verdict(payment, as_of, start)
        if verdict is not None:
            verdicts.append(verdict)
    return all(verdicts) if verdicts else None


@dataclass
class PaymentsFold:
    """Folds streamed invoices into `payments_on_time`'s verdict per account key, as of `as_of`.

    A run reads half a year of invoices for every account but scoring reads one yes/no/unknown of
    them, so the fold keeps that alone: `verdicts[key]` equals `payments_on_time(<the key's
    invoices>, as_of)` (every key seen is present, None when none of its invoices fell due).
    """

    as_of: date
    verdicts: dict[str, bool | None] = field(default_factory=dict)

    def add(self, payments: Iterable[Payment]) -> None:
        """Fold invoices in."""
        start = self.as_of - timedelta(days=PAYMENT_WINDOW_DAYS)
        verdicts = self.verdicts
        for payment in payments:
            verdict = _payment_verdict(payment, self.as_of, start)
            key = payment.account_key
            if verdict is None:
                verdicts.setdefault(key, None)
            else:
                so_far = verdicts.get(key)
                verdicts[key] = verdict if so_far is None else so_far and verdict


@dataclass
class NpsKept:
    """Keeps of streamed NPS answers, per account key, only what a run reads of them.

    That is every answer given at or after `recent_since` (the answers a run mirrors), plus the
    answer `build_features` would pick as the last one at the instant `at` when it is older: a
    year of answers for every account is mostly neither. Answers stay in the order they came.
    """

    at: datetime
    recent_since: datetime
    answers: dict[str, list[Rating]] = field(default_factory=dict)
    _last_old: dict[str, Rating] = field(default_factory=dict)

    def add(self, ratings: Iterable[Rating]) -> None:
        """Keep what a run reads of `ratings`."""
        for rating in ratings:
            kept = self.answers.setdefault(rating.account_key, [])
            if rating.at >= self.recent_since:
                kept.append(rating)
            elif rating.kind is RatingKind.NPS and rating.at <= self.at:
                held = self._last_old.get(rating.account_key)
                if held is None or (rating.at, rating.id or "") > (held.at, held.id or ""):
                    self._last_old[rating.account_key] = rating

    def result(self) -> dict[str, list[Rating]]:
        """The kept answers per key (the older last answer, if any, at the end of its list)."""
        for key, rating in self._last_old.items():
            self.answers[key].append(rating)
        self._last_old.clear()
        return self.answers


def _last_nps(ratings: Iterable[Rating], at: datetime) -> Rating | None:
    answers = [r for r in ratings if r.kind is RatingKind.NPS and r.at <= at]
    return max(answers, key=lambda r: (r.at, r.id or "")) if answers else None


def _critical(tickets: Iterable[Ticket], at: datetime) -> tuple[int, float | None, str | None]:
    """Open critical tickets at `at`: how many, the oldest one's age in whole days and its id."""
    open_now = [
        t
        for t in tickets
        if t.is_critical
        and not t.deleted
        and t.created_at <= at
        and (t.is_open or (t.solved_at or t.updated_at) > at)  # solved later: open then
    ]
    if not open_now:
        return 0, None, None
    oldest = min(open_now, key=lambda t: (t.created_at, t.id))
    # Whole calendar days (UTC, like every day-based feature): the age, and the reason text that
    # shows it, change once a day, so two syncs on one day write the same thing.
    return len(open_now), float((at.date() - oldest.created_at.astimezone(UTC).date()).days), oldest.id


def build_features(
    account: Account,
    *,
    key: str,
    at: datetime,
    usage: UsageSummary | None,
    tickets: Iterable[Ticket] | None,
    ratings: Iterable[Rating] | None,
    payments: Iterable[Payment] | None,
    previous_licenses: int | None,
    extra: Mapping[str, float | int | bool | str | None] | None = None,
    payments_verdict: bool | None = None,
) -> Features:
    """The features of one account at the instant `at`.

    Args:
        account: the CRM account (licenses, contract dates, segment).
        key: the account's key in history and state (the engine's account key).
        at: the moment measured; its date is the as-of day.
        usage: the account's folded usage; None when no usage source is configured or it has no
            rows for the account (usage features stay "no data").
        tickets: the account's tickets (all its linked organizations'); None without a ticket source
            or without a linked organization.
        ratings: the account's NPS answers; None without an NPS source.
        payments: the account's invoices; None without a payment source.
        previous_licenses: licenses at the previous snapshot, for seat growth.
        extra: custom inputs for rules (`extra.<name>`).
        payments_verdict: the account's invoices already folded (`PaymentsFold`), used when
            `payments` is None.
    """
    today = at.date()
    count, age, oldest = _critical(tickets, at) if tickets is not None else (None, None, None)
    last = _last_nps(ratings, at) if ratings is not None else None
    change = None
    if usage is not None and usage.earlier_users > 0:
        change = round((usage.recent_users - usage.earlier_users) / usage.earlier_users, 4)
    licenses = account.licenses
    growth = licenses - previous_licenses if licenses is not None and previous_licenses is not None else None
    start, end = account.contract_start, account.contract_end
    return Features(
        account=key,
        login_days_30d=usage.login_days if usage is not None else None,
        active_users=usage.active_users if usage is not None else None,
        licenses=licenses,
        open_critical_tickets=count,
        oldest_critical_ticket_age_days=age,
        oldest_critical_ticket_id=oldest,
        last_nps=last.score if last is not None else None,
        last_nps_at=last.at.date() if last is not None else None,
        payments_on_time_6m=payments_on_time(payments, today) if payments is not None else payments_verdict,
        usage_change_14d=change,
        seat_growth=growth,
        days_since_contract_start=(today - start).days if start is not None else None,
        days_to_contract_end=(end - today).days if end is not None else None,
        contract_start=start,
        contract_end=end,
        segment=account.segment,
        extra=dict(extra or {}),
    )
