"""Rendering query rows as the REST API returns them: `attributes` first, then the selected fields.

Relationship fields (`Owner.Name`) nest under the relationship name with their own `attributes`, or
are null when the reference is empty (SOQL relationship queries,
https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_relationships_query_using.htm).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from healthsync.sandbox.salesforce.schema import ObjectDef, Schema

if TYPE_CHECKING:
    from healthsync.sandbox.salesforce.query import Bound, RecordSource

__all__ = ["projector"]

Record = dict[str, Any]


def projector(
    obj: ObjectDef, selected: list[Bound], schema: Schema, source: RecordSource
) -> Callable[[Record, str], Record]:
    """A function rendering one stored row for an API version path segment (`v62.0`)."""

    def attributes(type_name: str, record_id: str, version: str) -> dict[str, str]:
        return {"type": type_name, "url": f"/services/data/{version}/sobjects/{type_name}/{record_id}"}

    names = [bound.definition.name for bound in selected]
    if all(bound.relationship is None for bound in selected):
        # The common case (no relationship fields) is on the hot path of every page: keep it lean.
        type_name, url_field = obj.name, obj.url_field

        def project_plain(row: Record, version: str) -> Record:
            url = f"/services/data/{version}/sobjects/{type_name}/{row[url_field]}"
            return {"attributes": {"type": type_name, "url": url}, **{n: row.get(n) for n in names}}

        # Only row values feed this projection, so its output can be cached per row object.
        project_plain.cache_key = (type_name, tuple(names))  # type: ignore[attr-defined]
        return project_plain

    def project(row: Record, version: str) -> Record:
        out: Record = {"attributes": attributes(obj.name, row[obj.url_field], version)}
        for bound in selected:
            if bound.relationship is None:
                out[bound.definition.name] = row.get(bound.definition.name)
                continue
            rel = bound.relationship
            rel_name = rel.relationship_name or rel.name
            target_id = row.get(rel.name)
            target = schema.by_prefix(target_id[:3]) if target_id else None
            related = source.get(target.name, target_id) if target and target_id else None
            if related is None:
                out[rel_name] = None
                continue
            nested = out.get(rel_name)
            if not isinstance(nested, dict):
                nested = out[rel_name] = {"attributes": attributes(target.name, related["Id"], version)}  # type: ignore[union-attr]
            nested[bound.definition.name] = related.get(bound.definition.name)
        return out

    return project
