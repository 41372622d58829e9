"""Connectors: one module per vendor and usage source, each implementing the protocols in base.py."""
