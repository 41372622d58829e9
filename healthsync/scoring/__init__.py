"""Pure scoring: rules, bands, trend, renewal stages and signals (DESIGN.md section 5).

Nothing in this package imports a client, a session or a clock; callers pass `as_of`/`today` in.
"""
