"""One run, end to end: engine, matching, features, plan, writer and state store (DESIGN.md 1, 7, 8)."""
