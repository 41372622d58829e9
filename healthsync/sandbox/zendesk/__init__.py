"""The sandbox's Zendesk Support API: organizations, users, tickets, CSAT, search and exports."""

from healthsync.sandbox.zendesk.app import ZendeskApp

__all__ = ["ZendeskApp"]
