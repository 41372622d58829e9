"""Suite-wide rules: no request in the test suite reads a page smaller than the vendor allows.

Issue #5, "Done when": no request uses a page size below the vendor maximum unless fewer records
remain. Every sandbox records each page it serves (the page size in effect and whether records
remained, `healthsync.sandbox.stats`); this autouse fixture fails any test after which a sandbox of
this process served an undersized page, whichever sandbox it was (module-scoped, the test's own,
or one already stopped). Reads made while a module- or session-scoped fixture is set up count
towards the first test that needs it.

A test that reads small pages on purpose (a sandbox test of the vendor's own paging rules) says so:
``@pytest.mark.undersized_pages(reason="...")``. Batch sizes of writes are asserted where the
writes are made (`tests/contract/test_account_sources.py`), since only the writer knows whether more
inputs were waiting.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from healthsync.sandbox.stats import undersized_mark, undersized_since

MARKER = "undersized_pages"

_checked = undersized_mark()
"""How far the process-wide log of undersized reads has been checked."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(reason): the test reads pages below the vendor maximum on purpose; say why",
    )


@pytest.fixture(autouse=True)
def _pages_at_the_vendor_maximum(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if any sandbox served it a page below the vendor maximum with records left."""
    yield
    global _checked
    found = undersized_since(_checked)
    _checked = undersized_mark()
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        if not (marker.kwargs.get("reason") or marker.args):
            pytest.fail(
                f"@pytest.mark.{MARKER} needs a reason: why does this test read small pages?", pytrace=False
            )
        return
    if found:
        lines = "\n".join(f"  {read}" for read in found[:20])
        more = f"\n  ... and {len(found) - 20} more" if len(found) > 20 else ""
        pytest.fail(
            f"{len(found)} page(s) read below the vendor maximum while records remained "
            f"(issue #5: pages at the vendor maximum unless fewer records remain):\n{lines}{more}\n"
            f"Ask for the maximum page size, or mark the test @pytest.mark.{MARKER}(reason=...).",
            pytrace=False,
        )
