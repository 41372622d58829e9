"""Builders shared by the contract and sandbox tests (helpers, not fixtures; no tests here).

- `helpers.data`: hand-made datasets whose every record a test can name (CRM customers, Zendesk
  organizations with tickets and ratings, the six-customer small dataset);
- `helpers.configs`: real healthsync configs written for a running sandbox, secrets in files;
- `helpers.sandboxes`: starting a one-vendor sandbox, and what it served, stored or should fault;
- `helpers.fakes`: a clock only sleeps move, and an `Http` on it.

Imported as `helpers` (`tests/` is on `sys.path` through its `conftest.py`).
"""
