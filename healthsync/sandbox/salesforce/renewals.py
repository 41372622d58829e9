"""People in the sandbox org close renewal Opportunities when a contract renews or churns.

healthsync opens one renewal Opportunity per contract end (`Healthsync_Renewal_Key__c` =
`renewal:<Account Id>:<contract end>`); when the simulated clock makes a customer renew or leave
(`ContractEvent` "renewed" / "churned"), its owner closes that deal in the UI:

- the deal is the one whose key names the contract (`contract_end_before`); when no deal carries
  that key, the account's open `Type = 'Renewal'` deal without a key of another contract, the one
  whose CloseDate is nearest the contract end; a keyed deal that is already closed stays as it is;
- renewed: StageName = the won stage ("Closed Won"), Amount = the new ARR, CloseDate = the event day;
- churned: StageName = the lost stage ("Closed Lost"), CloseDate = the event day and
  `Loss_Reason__c` = the reason when the org has that field and the reason is one of its picklist
  values (else the field is left alone).

The write is a person's: the API user's permission restrictions and injected row locks do not
apply, `LastModifiedById` is the account's owner, and `LastModifiedDate`/`SystemModstamp` carry the
sandbox clock, so SOQL on either (healthsync's incremental reads) sees the change. Without an open
deal there is nothing for a person to close and nothing happens.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from healthsync.sandbox.dataset import ContractEvent
from healthsync.sandbox.salesforce.errors import RecordError
from healthsync.sandbox.salesforce.org import Org
from healthsync.sandbox.salesforce.schema import FieldDef, ObjectDef
from healthsync.sandbox.salesforce.seed import account_id
from healthsync.sandbox.salesforce.values import JsonParseError

__all__ = ["LOSS_REASON_FIELD", "RENEWAL_KEY_FIELD", "RenewalCloser"]

RENEWAL_KEY_FIELD = "Healthsync_Renewal_Key__c"
LOSS_REASON_FIELD = "Loss_Reason__c"
RENEWAL_TYPE = "Renewal"

Record = dict[str, Any]


def _renewal_key(account: str, contract_end: date) -> str:
    # The key healthsync gives a renewal deal (`healthsync.sync.outcomes.deal_key`).
    return f"renewal:{account}:{contract_end.isoformat()}"


def _stage(obj: ObjectDef, *, won: bool) -> str | None:
    """The active closed stage that is won (or lost), preferring the standard names."""
    standard = "Closed Won" if won else "Closed Lost"
    candidates = [
        p.value for p in obj.fields["StageName"].picklist if p.active and p.closed and bool(p.won) == won
    ]
    return standard if standard in candidates else next(iter(candidates), None)


def _picklist_value(definition: FieldDef, value: str) -> str | None:
    """`value` as the field stores it: a picklist's own spelling of it, None when not one of its values."""
    if definition.type != "picklist":
        return value
    folded = value.casefold()
    return next((p.value for p in definition.picklist if p.active and p.value.casefold() == folded), None)


class RenewalCloser:
    """Closes the renewal deals of one delta's contract events (call under the store's lock)."""

    def __init__(self, org: Org) -> None:
        self.org = org
        opportunity = org.schema.get("Opportunity")
        assert opportunity is not None
        self.obj = opportunity
        self._by_account: dict[str, list[Record]] | None = None

    def close(self, event: ContractEvent) -> str | None:
        """Close the open renewal deal of a "renewed" or "churned" event; its Id, or None if none."""
        if event.kind not in ("renewed", "churned") or event.contract_end_before is None:
            return None
        account = self.org.store.get("Account", account_id(event.index))
        if account is None or account.get("IsDeleted"):
            return None  # not in the CRM
        deal = self._open_deal(account["Id"], event.contract_end_before)
        if deal is None:
            return None
        won = event.kind == "renewed"
        stage = _stage(self.obj, won=won)
        if stage is None:
            return None
        values: Record = {"StageName": stage, "CloseDate": event.at.date().isoformat()}
        if won:
            values["Amount"] = float(event.arr_after)
        else:
            reason_field = self.obj.field(LOSS_REASON_FIELD)
            reason = _picklist_value(reason_field, event.reason) if reason_field and event.reason else None
            if reason_field is not None and reason is not None:
                values[reason_field.name] = reason
        owner = account.get("OwnerId") or self.org.writer.user_id
        try:
            row = self.org.writer.person_update(self.obj, deal["Id"], values, owner)
        except (RecordError, JsonParseError):
            return None  # the org would refuse the person's save too (a value out of range)
        self._forget(row)
        return str(row["Id"])

    def _open_deal(self, account: str, contract_end: date) -> Record | None:
        key = _renewal_key(account, contract_end)
        key_field = self.obj.field(RENEWAL_KEY_FIELD)
        if key_field is not None:
            ids = self.org.store.lookup(self.obj, key_field, key)
            keyed = [self.org.store.get("Opportunity", i) for i in ids]
            live = [r for r in keyed if r is not None and not r.get("IsDeleted")]
            if live:
                open_ones = sorted((r for r in live if not r.get("IsClosed")), key=lambda r: r["Id"])
                return open_ones[0] if open_ones else None
        candidates = [
            r
            for r in self._account_deals().get(account, [])
            if not r.get("IsDeleted")
            and not r.get("IsClosed")
            and r.get("Type") == RENEWAL_TYPE
            and not (key_field is not None and r.get(key_field.name))
        ]
        if not candidates:
            return None

        def distance(row: Record) -> tuple[int, str, str]:
            close = row.get("CloseDate")
            days = abs((date.fromisoformat(close) - contract_end).days) if close else 1 << 30
            return days, str(close), row["Id"]

        return min(candidates, key=distance)

    def _account_deals(self) -> dict[str, list[Record]]:
        """Opportunities by AccountId, built once per delta, and only if a fallback needs it."""
        if self._by_account is None:
            self._by_account = {}
            for row in self.org.store.records("Opportunity"):
                if row.get("AccountId"):
                    self._by_account.setdefault(row["AccountId"], []).append(row)
        return self._by_account

    def _forget(self, row: Record) -> None:
        """Keep the by-account lists current after a close (rows are replaced, never mutated)."""
        if self._by_account is None or not row.get("AccountId"):
            return
        rows = self._by_account.get(row["AccountId"], [])
        self._by_account[row["AccountId"]] = [row if r["Id"] == row["Id"] else r for r in rows]
