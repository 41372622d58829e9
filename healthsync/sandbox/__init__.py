"""Local Salesforce, HubSpot and Zendesk APIs that the unmodified vendor SDKs talk to (DESIGN.md 11).

Part of the product, not test code: `healthsync demo` and `healthsync sandbox serve` run it, and the
end-to-end tests and benchmarks use it. See `Sandbox` for the in-process entry point.
"""

from healthsync.sandbox.runtime import Sandbox

__all__ = ["Sandbox"]
