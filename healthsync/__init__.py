"""healthsync: customer health scores, renewal stages and tasks, inside the CRM a team already uses.

The public Python API is listed in `__all__`; the `healthsync` command is a thin skin over it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from healthsync.config import Config, load_config
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
from healthsync.scoring.engine import score, score_many
from healthsync.scoring.features_file import load_features
from healthsync.scoring.rules import RuleSet, default_rules, load_rules
from healthsync.secrets import Secret, SecretRef
from healthsync.sync.state import StateStore

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
