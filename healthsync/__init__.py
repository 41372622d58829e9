"""healthsync: customer health scores, renewal stages and tasks, inside the CRM a team already uses.

The public Python API is listed in `__all__`; the `healthsync` command is a thin skin over it.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from healthsync.errors import (
    AuthError,
    ConfigError,
    HealthsyncError,
    MappingError,
    QuotaExhausted,
    RateLimited,
    RecordRejected,
    StateError,
    TransientError,
    VendorError,
)

if TYPE_CHECKING:
    from healthsync.config import Config, load_config
    from healthsync.scoring.engine import score, score_many
    from healthsync.scoring.features_file import load_features
    from healthsync.scoring.rules import RuleSet, default_rules, load_rules
    from healthsync.secrets import Secret, SecretRef
    from healthsync.sync.state import StateStore

# Imported on first use (PEP 562): config, scoring and the state store pull in pydantic and
# SQLAlchemy (~0.8 s), which `import healthsync.errors`, the CLI and the sandbox need not pay.
_LAZY = {
    "Config": "healthsync.config",
    "load_config": "healthsync.config",
    "score": "healthsync.scoring.engine",
    "score_many": "healthsync.scoring.engine",
    "load_features": "healthsync.scoring.features_file",
    "RuleSet": "healthsync.scoring.rules",
    "default_rules": "healthsync.scoring.rules",
    "load_rules": "healthsync.scoring.rules",
    "Secret": "healthsync.secrets",
    "SecretRef": "healthsync.secrets",
    "StateStore": "healthsync.sync.state",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'healthsync' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


try:
    __version__ = version("healthsync")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AuthError",
    "Config",
    "ConfigError",
    "HealthsyncError",
    "MappingError",
    "QuotaExhausted",
    "RateLimited",
    "RecordRejected",
    "RuleSet",
    "Secret",
    "SecretRef",
    "StateError",
    "StateStore",
    "TransientError",
    "VendorError",
    "__version__",
    "default_rules",
    "load_config",
    "load_features",
    "load_rules",
    "score",
    "score_many",
]
