"""Project the sandbox dataset into Salesforce records: Users from owners, Accounts from customers.

Ids derive from `Owner.index` / `Customer.index` (ids.make_id), so the same seed gives the same
ids. With an unprovisioned org the custom inputs are simply absent, as they would be in a CRM that
never ran `healthsync fields apply`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from healthsync.sandbox.dataset import Customer, Owner
from healthsync.sandbox.salesforce.ids import KEY_PREFIXES, SERIES_SYSTEM, make_id
from healthsync.sandbox.salesforce.query import format_datetime
from healthsync.sandbox.salesforce.schema import ObjectDef

__all__ = ["account_id", "account_row", "api_user_row", "user_id", "user_row"]

Record = dict[str, Any]


def user_id(owner_index: int) -> str:
    """The User Id of dataset owner `owner_index`."""
    return make_id(KEY_PREFIXES["User"], owner_index)


def account_id(customer_index: int) -> str:
    """The Account Id of dataset customer `customer_index`."""
    return make_id(KEY_PREFIXES["Account"], customer_index)


def _blank(obj: ObjectDef) -> Record:
    return dict.fromkeys(obj.fields)


def api_user_row(obj: ObjectDef, now: datetime) -> Record:
    """The integration user the sandbox's access token belongs to (default owner of API writes)."""
    stamp = format_datetime(now)
    row = _blank(obj)
    row.update(
        Id=make_id(KEY_PREFIXES["User"], 0, SERIES_SYSTEM),
        Username="integration@healthsync-sandbox.example",
        FirstName="Integration",
        LastName="User",
        Name="Integration User",
        Email="integration@healthsync-sandbox.example",
        Alias="integ",
        IsActive=True,
        CreatedDate=stamp,
        LastModifiedDate=stamp,
        SystemModstamp=stamp,
    )
    return row


def user_row(obj: ObjectDef, owner: Owner, now: datetime) -> Record:
    """A dataset owner as a Salesforce User."""
    stamp = format_datetime(now)
    row = _blank(obj)
    row.update(
        Id=user_id(owner.index),
        Username=owner.email,
        FirstName=owner.first_name,
        LastName=owner.last_name,
        Name=f"{owner.first_name} {owner.last_name}",
        Email=owner.email,
        Alias=(owner.first_name[:1] + owner.last_name[:4]).lower(),
        IsActive=True,
        CreatedDate=stamp,
        LastModifiedDate=stamp,
        SystemModstamp=stamp,
    )
    return row


def account_row(
    obj: ObjectDef, customer: Customer, api_user: str, *, modified: datetime | None = None
) -> Record:
    """A customer as an Account; `modified` overrides the dataset's last-modified time (apply)."""
    row = _blank(obj)
    changed = format_datetime(modified or customer.modified_at)
    row.update(
        Id=account_id(customer.index),
        IsDeleted=False,
        Name=customer.name,
        Website=f"https://{customer.domain}",
        Industry=customer.industry,
        OwnerId=user_id(customer.owner),
        AnnualRevenue=float(customer.arr),
        NumberOfEmployees=max(1, customer.seats * 4),
        Type="Customer - Direct",
        CreatedDate=format_datetime(customer.created_at),
        CreatedById=api_user,
        LastModifiedDate=changed,
        LastModifiedById=api_user,
        SystemModstamp=changed,
    )
    custom = {
        "Customer_Key__c": customer.key,
        "Contract_Start__c": customer.contract_start.isoformat(),
        "Contract_End__c": customer.contract_end.isoformat(),
        "ARR__c": float(customer.arr),
        "Licenses__c": float(customer.seats),
        "Segment__c": customer.segment,
    }
    for name, value in custom.items():
        if name in obj.fields:
            row[name] = value
    return row
