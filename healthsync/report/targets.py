"""What each portfolio metric is judged against, and the few inputs only a person knows.

The defaults are the CS playbook's. Percent targets are numbers of percent (100.0, not 1.0) so they
read the same in `[report.targets]`, in the JSON and on the page. Values are checked here as well
as in config, so a report built in code (tests, notebooks) cannot carry a target no metric could
ever meet or miss (a NaN compares false against everything).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

__all__ = ["DEFAULT_TARGETS", "Targets"]

_RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    # field: (lowest, highest, lowest allowed itself)
    "nrr": (0.0, None, True),
    "grr": (0.0, 100.0, True),
    "logo_churn": (0.0, 100.0, True),
    "ltv_cac": (0.0, None, False),
    "ttv_days": (0.0, None, False),
    "nps": (-100.0, 100.0, True),
    "coverage": (0.0, 100.0, True),
    "cac": (0.0, None, False),
    "value_share": (0.0, 1.0, False),
}


@dataclass(frozen=True)
class Targets:
    """The playbook's targets (comparison in brackets) and the report's inputs.

    Attributes:
        nrr: net revenue retention, % (>).
        grr: gross revenue retention, % (>).
        logo_churn: logo churn, % per month (<); a quarter is judged by the compounded monthly rate.
        ltv_cac: lifetime value over acquisition cost (>).
        ttv_days: median days from contract start to the value milestone (<).
        nps: net promoter score, -100..100 (>).
        coverage: share of active accounts scored in the last `coverage_days` days, % (>=).
        cac: average customer acquisition cost in ARR's currency; LTV/CAC needs it.
        value_share: the value milestone, active users >= this share of licenses. The engine
            records the milestone day with it; the report only names it in the TTV details.
        coverage_days: how recent a score must be to count as covered.

    Raises:
        ValueError: naming the field, when a value is not a finite number in its range.
    """

    nrr: float = 100.0
    grr: float = 85.0
    logo_churn: float = 5.0
    ltv_cac: float = 3.0
    ttv_days: float = 14.0
    nps: float = 50.0
    coverage: float = 100.0
    cac: float | None = None
    value_share: float = 0.5
    coverage_days: int = 7

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "coverage_days":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError(
                        f"targets.coverage_days: must be a whole number of days >= 1, got {value!r}"
                    )
                continue
            if value is None and f.name == "cac":
                continue
            _check(f.name, value)

    @property
    def value_milestone(self) -> str:
        """The milestone in words, for the TTV metric's details."""
        return f"active users >= {self.value_share * 100:g} % of licenses"


def _check(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"targets.{name}: must be a finite number, got {value!r}")
    low, high, low_ok = _RANGES[name]
    if low is not None and (value < low or (value == low and not low_ok)):
        bound = ">=" if low_ok else ">"
        raise ValueError(f"targets.{name}: must be {bound} {low:g}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"targets.{name}: must be <= {high:g}, got {value!r}")


DEFAULT_TARGETS = Targets()
"""The playbook's defaults, shared so signatures need not build one per call."""
