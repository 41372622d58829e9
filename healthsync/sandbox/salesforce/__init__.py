"""The sandbox's Salesforce org: REST API v46.0+ under `/services/data/vXX.X/` (see `app.py`)."""

from healthsync.sandbox.salesforce.app import SalesforceApp

__all__ = ["SalesforceApp"]
