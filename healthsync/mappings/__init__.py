"""Field mappings for RevOps: built-in defaults per CRM, user overrides, checks (DESIGN.md 6)."""

from healthsync.mappings.model import FieldMapping, load_mapping

__all__ = ["FieldMapping", "load_mapping"]
