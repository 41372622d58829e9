"""People in the sandbox portal close renewal deals when a contract renews or churns.

healthsync opens one deal per contract end in its "Renewals" pipeline, keyed by the unique property
`healthsync_renewal_key` = `renewal:<company id>:<contract end>` and associated with the company.
When the simulated clock makes a customer renew or leave (`ContractEvent` "renewed" / "churned"),
its owner closes that deal:

- the deal is the one whose key names the contract (`contract_end_before`); when no deal carries
  that key, the company's open deal in the Renewals pipeline without a key of another contract,
  the one whose close date is nearest the contract end; a keyed deal already closed stays as it is;
- renewed: `dealstage` = the pipeline's closed-won stage ("Closed won"), `amount` = the new ARR,
  `closedate` = the event day (midnight UTC, as healthsync writes it);
- churned: `dealstage` = the closed-lost stage ("Closed lost"), `closedate` = the event day and
  HubSpot's standard `closed_lost_reason` = the reason.

The write bumps `hs_lastmodifieddate` (and the record's revision and search-index time) with the
sandbox clock, as API writes do, so modified-since searches see it. Without an open deal there is
nothing for a person to close and nothing happens.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from healthsync.sandbox.dataset import ContractEvent
from healthsync.sandbox.hubspot.state import HubSpotState, Pipeline, Stage
from healthsync.sandbox.hubspot.store import OBJECT_TYPES, Record
from healthsync.sandbox.hubspot.values import iso, parse_instant

__all__ = ["LOSS_REASON_PROPERTY", "RENEWAL_KEY_PROPERTY", "RENEWAL_PIPELINE", "RenewalCloser"]

RENEWAL_KEY_PROPERTY = "healthsync_renewal_key"
LOSS_REASON_PROPERTY = "closed_lost_reason"
RENEWAL_PIPELINE = "Renewals"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _renewal_key(company: int, contract_end: date) -> str:
    # The key healthsync gives a renewal deal (`healthsync.sync.outcomes.deal_key`).
    return f"renewal:{company}:{contract_end.isoformat()}"


def _closed(stage: Stage | None) -> bool:
    return stage is not None and stage.metadata.get("isClosed", "").lower() == "true"


def _closing_stage(pipeline: Pipeline, *, won: bool) -> Stage | None:
    """The pipeline's closed-won (probability 1.0) or closed-lost (0.0) stage, by label first."""
    label = "closed won" if won else "closed lost"
    probability = "1.0" if won else "0.0"
    live = [s for s in pipeline.stages if not s.archived and _closed(s)]
    by_label = [s for s in live if s.label.casefold() == label]
    by_probability = [s for s in live if s.metadata.get("probability") == probability]
    return next(iter(by_label or by_probability), None)


class RenewalCloser:
    """Closes the renewal deals of contract events (call under the portal's lock)."""

    def __init__(self, state: HubSpotState) -> None:
        self.state = state
        self.deals = state.objects["deals"]

    def _pipeline(self, deal: Record) -> Pipeline | None:
        found = self.state.pipelines["deals"].get(deal.properties.get("pipeline") or "default")
        return None if found is None or found.archived else found

    def _is_open(self, deal: Record) -> bool:
        pipeline = self._pipeline(deal)
        if pipeline is None:
            return False
        stage = next((s for s in pipeline.stages if s.id == deal.properties.get("dealstage")), None)
        return not _closed(stage)

    def close(self, event: ContractEvent) -> str | None:
        """Close the open renewal deal of a "renewed" or "churned" event; its id, or None if none."""
        if event.kind not in ("renewed", "churned") or event.contract_end_before is None:
            return None
        company = OBJECT_TYPES["companies"].id_base + event.index
        if self.state.objects["companies"].get(company) is None:
            return None  # not in the CRM (or archived)
        deal = self._open_deal(company, event.contract_end_before)
        pipeline = self._pipeline(deal) if deal is not None else None
        if deal is None or pipeline is None:
            return None
        won = event.kind == "renewed"
        stage = _closing_stage(pipeline, won=won)
        if stage is None:
            return None
        midnight = datetime.combine(event.at.date(), time(0), tzinfo=UTC)
        changes: dict[str, str | None] = {"dealstage": stage.id, "closedate": iso(midnight)}
        if won:
            changes["amount"] = _number(event.arr_after)
        elif event.reason and LOSS_REASON_PROPERTY in self.state.live_properties(self.deals.type):
            changes[LOSS_REASON_PROPERTY] = event.reason
        self.deals.write(deal, changes, self.state.now())
        return str(deal.id)

    def _open_deal(self, company: int, contract_end: date) -> Record | None:
        key = _renewal_key(company, contract_end)
        keyed_property = RENEWAL_KEY_PROPERTY in self.deals.unique_names
        if keyed_property:
            keyed = self.deals.find_unique(RENEWAL_KEY_PROPERTY, key)
            if keyed is not None and not keyed.archived:
                return keyed if self._is_open(keyed) else None
        renewals = {
            p.id
            for p in self.state.pipelines["deals"].values()
            if not p.archived and p.label.casefold() == RENEWAL_PIPELINE.casefold()
        }
        candidates = []
        for deal_id in self.state.associations.targets("companies", company, "deals"):
            deal = self.deals.get(deal_id)
            if (
                deal is not None
                and deal.properties.get("pipeline") in renewals
                and self._is_open(deal)
                and not (keyed_property and deal.properties.get(RENEWAL_KEY_PROPERTY))
            ):
                candidates.append(deal)
        if not candidates:
            return None

        def distance(deal: Record) -> tuple[int, int]:
            moment = parse_instant(deal.properties.get("closedate") or "")
            days = abs((moment.date() - contract_end).days) if moment else 1 << 30
            return days, deal.id

        return min(candidates, key=distance)
