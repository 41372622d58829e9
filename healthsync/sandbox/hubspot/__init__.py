"""The sandbox's HubSpot CRM API (`/crm/v3/...`, `/crm/v4/...`), spoken to by hubspot-api-client."""

from healthsync.sandbox.hubspot.app import HubSpotApp

__all__ = ["HubSpotApp"]
