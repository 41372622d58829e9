"""The sandbox org's state and the helpers every route shares (versions, bodies, query paging)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from healthsync.sandbox.limits import DailyQuota
from healthsync.sandbox.salesforce.errors import fail, not_found
from healthsync.sandbox.salesforce.permissions import Permissions
from healthsync.sandbox.salesforce.query import Plan, plan_query
from healthsync.sandbox.salesforce.schema import ObjectDef, Schema
from healthsync.sandbox.salesforce.soql import SoqlError
from healthsync.sandbox.salesforce.store import Cursor, Cursors, Record, Store
from healthsync.sandbox.salesforce.value_sets import ToolingRecords, ValueSets
from healthsync.sandbox.salesforce.writes import Writer
from healthsync.sandbox.vendor import SandboxContext
from healthsync.sandbox.wire import PageServed, Request

__all__ = ["MIN_VERSION", "Org", "Page"]

# sObject Collections upsert needs API v46.0+ (vendor-facts.md §2); older versions are refused.
MIN_VERSION = 46.0
_VERSION = re.compile(r"^v(\d{2,3})\.(\d)$")
_PAGE_CACHE = 16
"""Rendered record lists kept for repeated pages (about 1 MB each at 2,000 records)."""
_PLAN_CACHE = 64
"""Query plans kept for repeated queries (a sync restarts the same few SOQL statements)."""

# Sforce-Query-Options batchSize: default and maximum 2,000, minimum 200
# (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_queryoptions.htm).
DEFAULT_BATCH = 2000
MIN_BATCH = 200
MAX_BATCH = 2000


@dataclass
class Org:
    """Everything one sandbox org holds."""

    ctx: SandboxContext
    schema: Schema
    store: Store
    writer: Writer
    cursors: Cursors
    tooling_schema: Schema
    tooling_store: Store
    quota: DailyQuota
    value_sets: ValueSets
    permissions: Permissions
    _plans: dict[tuple[str, bool, bool, str], tuple[int, Plan]] = field(default_factory=dict)
    _fragments: dict[str, tuple[Record, Any, str, bytes]] = field(default_factory=dict)
    _pages: dict[tuple[int, int, int, str], tuple[list[Record], bytes]] = field(default_factory=dict)

    @property
    def tooling_records(self) -> ToolingRecords:
        """What Tooling SOQL reads: stored Tooling rows and the standard value sets."""
        return ToolingRecords(self.tooling_store, self.value_sets)

    # --- request helpers ----------------------------------------------------------------------------

    @staticmethod
    def version(request: Request) -> str:
        """`62.0` from the `{version}` path segment `v62.0`; 404 NOT_FOUND for a version we do not serve."""
        match = _VERSION.match(request.params.get("version", ""))
        if match is None or float(f"{match.group(1)}.{match.group(2)}") < MIN_VERSION:
            not_found()
        return f"{match.group(1)}.{match.group(2)}"

    def sobject(self, name: str) -> ObjectDef:
        """The sObject named in the path; 404 NOT_FOUND when the org has none (as for a bad URL)."""
        obj = self.schema.get(name)
        if obj is None:
            not_found()
        return obj

    @staticmethod
    def body(request: Request) -> Any:
        """The JSON body; 400 JSON_PARSER_ERROR when it is not JSON."""
        try:
            return json.loads(request.body or b"null")
        except json.JSONDecodeError as exc:
            fail(400, "JSON_PARSER_ERROR", f"{exc.msg} at [line:{exc.lineno}, column:{exc.colno}]")
        except UnicodeDecodeError:
            fail(400, "JSON_PARSER_ERROR", "Invalid UTF-8 start byte at [line:1, column:1]")

    # --- query paging ------------------------------------------------------------------------------

    @staticmethod
    def batch_size(request: Request) -> int:
        """The Sforce-Query-Options batch size, clamped to Salesforce's 200-2,000 range."""
        header = request.header("sforce-query-options") or ""
        for part in header.split(","):
            key, _, value = part.partition("=")
            if key.strip().lower() == "batchsize":
                try:
                    return max(MIN_BATCH, min(MAX_BATCH, int(value.strip())))
                except ValueError:
                    return DEFAULT_BATCH
        return DEFAULT_BATCH

    def plan(self, request: Request, *, include_deleted: bool, tooling: bool = False) -> Plan:
        """Run the `q` parameter; SOQL problems become Salesforce's 400 bodies."""
        text = request.arg("q")
        if text is None:
            fail(400, "MALFORMED_QUERY", "A query string has to be specified")
        source: Store | ToolingRecords
        schema, source = (self.tooling_schema, self.tooling_records) if tooling else (self.schema, self.store)
        today = self.ctx.clock.today()
        # A repeated query over unchanged data reuses its plan (the rows are the same objects);
        # any write bumps the store's version and so retires every cached plan.
        key = (text, include_deleted, tooling, today.isoformat())
        version = source.version
        cached = self._plans.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        try:
            plan = plan_query(text, schema, source, include_deleted=include_deleted, today=today)
        except SoqlError as exc:
            fail(400, exc.code, exc.message)
        if len(self._plans) >= _PLAN_CACHE:
            self._plans.pop(next(iter(self._plans)))
        self._plans[key] = (version, plan)
        return plan

    def first_page(self, plan: Plan, request: Request, base: str) -> Page:
        """The first page of a query and, when more remain, a cursor for `nextRecordsUrl`.

        `base` is the path prefix under the version (`""`, or `"/tooling"`).
        """
        cursor = Cursor(
            rows=plan.rows,
            render=plan.project,
            batch_size=self.batch_size(request),
            expires=self.ctx.clock.now() + Cursors.LIFETIME,
            object_name=plan.object.name,
            render_key=getattr(plan.project, "cache_key", None),
        )
        if plan.count_only:
            return Page(cursor, "", 0, 0, f"v{self.version(request)}{base}", count_only=True)
        locator = self.cursors.open(cursor) if len(plan.rows) > cursor.batch_size else ""
        return self._slice(cursor, locator, 0, self.version(request), base, cursor.batch_size)

    def next_page(self, request: Request, base: str) -> Page:
        """A later page: `GET .../query/{locator}-{offset}`."""
        locator, _, offset_text = request.params["locator"].rpartition("-")
        cursor = self.cursors.get(locator, self.ctx.clock.now()) if offset_text.isdigit() else None
        if cursor is None or int(offset_text) > len(cursor.rows):
            fail(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        size = self.batch_size(request) if request.header("sforce-query-options") else cursor.batch_size
        return self._slice(cursor, locator, int(offset_text), self.version(request), base, size)

    @staticmethod
    def _slice(cursor: Cursor, locator: str, offset: int, version: str, base: str, size: int) -> Page:
        end = min(offset + size, len(cursor.rows))
        return Page(cursor, locator, offset, end, f"v{version}{base}", size=size)

    def as_bytes(self, page: Page) -> bytes:
        """The page as the API's JSON, its records from the fragment cache.

        A 2,000-record page is mostly the same records every time it is read; each row is rendered
        once per row object (rows are replaced, never mutated, on write), which keeps paging cheap.
        """
        head = json.dumps(page.head(), separators=(",", ":"))
        if page.count_only:
            return head.encode()
        rows = page.cursor.rows
        # The same page of an unchanged result (a cached plan keeps its row list until a write)
        # is the same bytes, bar the head, which carries this cursor's locator.
        key = (id(rows), page.offset, page.end, page.segment)
        cacheable = page.cursor.render_key is not None
        cached = self._pages.get(key) if cacheable else None
        if cached is not None and cached[0] is rows:
            records = cached[1]
        else:
            segment = page.segment
            records = b",".join(
                [self._fragment(page.cursor, row, segment) for row in rows[page.offset : page.end]]
            )
            if cacheable:
                if len(self._pages) >= _PAGE_CACHE:
                    self._pages.pop(next(iter(self._pages)))
                self._pages[key] = (rows, records)
        return head[:-1].encode() + b',"records":[' + records + b"]}"

    def _fragment(self, cursor: Cursor, row: Record, segment: str) -> bytes:
        key = cursor.render_key
        if key is not None:
            entry = self._fragments.get(row["Id"])
            if entry is not None and entry[0] is row and entry[1] == key and entry[2] == segment:
                return entry[3]
        data = json.dumps(cursor.render(row, segment), separators=(",", ":"), default=str).encode()
        if key is not None:
            self._fragments[row["Id"]] = (row, key, segment, data)
        return data


@dataclass(frozen=True)
class Page:
    """Which rows of a cursor one response carries; rendered as a dict or straight to bytes."""

    cursor: Cursor
    locator: str
    offset: int
    end: int
    segment: str
    """`v62.0` or `v62.0/tooling`: where record URLs and `nextRecordsUrl` point."""
    count_only: bool = False
    size: int = DEFAULT_BATCH
    """The batch size in effect for this page (`Sforce-Query-Options`, clamped; else the default)."""

    def served(self) -> PageServed | None:
        """This page for the page-size audit; None for `SELECT COUNT()` (a count, not a page)."""
        if self.count_only:
            return None
        return PageServed(self.size, MAX_BATCH, self.end - self.offset, self.end < len(self.cursor.rows))

    def head(self) -> dict[str, Any]:
        """`totalSize`, `done` and (unless it is the last page) `nextRecordsUrl`; records left out."""
        total = len(self.cursor.rows)
        if self.count_only:
            return {"totalSize": total, "done": True, "records": []}
        out: dict[str, Any] = {"totalSize": total, "done": self.end >= total}
        if not out["done"]:
            # Even a queryAll cursor continues under `query/` (vendor-facts.md §1).
            out["nextRecordsUrl"] = f"/services/data/{self.segment}/query/{self.locator}-{self.end}"
        return out

    def as_dict(self) -> dict[str, Any]:
        """The page with rendered records, for callers that add keys (Tooling queries)."""
        out = self.head()
        if not self.count_only:
            out["records"] = [
                self.cursor.render(row, self.segment) for row in self.cursor.rows[self.offset : self.end]
            ]
        return out
