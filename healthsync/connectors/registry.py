"""From configuration to connectors: which implementation serves each configured system.

The engine asks for "the CRM", "the ticket source" and "the usage source"; the config's sections
(`[crm] system`, `[zendesk]`, `[usage] kind`) decide which classes answer. A section left out of the
config gives None, and its rules report "no data".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from healthsync.config import Config
from healthsync.connectors.hubspot import HubSpotConnector
from healthsync.connectors.salesforce import SalesforceConnector
from healthsync.connectors.usage_csv import CsvUsageSource
from healthsync.connectors.usage_sql import SqlUsageSource
from healthsync.connectors.zendesk import ZendeskConnector
from healthsync.http import Http
from healthsync.mappings import FieldMapping, load_mapping
from healthsync.secrets import resolve

__all__ = ["CrmConnector", "crm_connector", "ticket_source", "usage_source"]

CrmConnector = SalesforceConnector | HubSpotConnector
"""A CRM connector: an AccountSource and CrmWriter."""

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def crm_connector(
    config: Config, http: Http, mapping: FieldMapping | None = None, *, clock: Clock = _utc_now
) -> CrmConnector:
    """The connector of the system of record named by `[crm] system`, with its mapping."""
    mapping = mapping or load_mapping(config.crm.system, config.crm.mapping)
    if config.crm.system == "salesforce":
        return SalesforceConnector.from_config(config, http, mapping, clock=clock)
    return HubSpotConnector.from_config(config, http, mapping, clock=clock)


def ticket_source(config: Config, http: Http, *, clock: Clock = _utc_now) -> ZendeskConnector | None:
    """The Zendesk connector when `[zendesk]` is configured, else None."""
    if config.zendesk is None:
        return None
    return ZendeskConnector.from_config(config, http, clock=clock)


def usage_source(config: Config) -> SqlUsageSource | CsvUsageSource | None:
    """The usage source of `[usage]` (SQL or CSV), else None."""
    section = config.usage
    if section is None:
        return None
    if section.kind == "csv":
        return CsvUsageSource(section, config_source=str(config.source))
    password = (
        resolve(section.password, context="usage.password", base_dir=config.base_dir)
        if section.password is not None
        else None
    )
    return SqlUsageSource(section, password=password, config_source=str(config.source))
