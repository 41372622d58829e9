"""Properties and property groups: `/crm/v3/properties/{objectType}[...]`.

Follows https://developers.hubspot.com/docs/api/crm/properties : `type` and `fieldType` are both
required and must be a valid pair; enumerations need options; a property belongs to an existing
group; names are unique per object (a second create answers 409 OBJECT_ALREADY_EXISTS); at most 10
`hasUniqueValue` properties per object (section "Create unique identifier properties" of that guide;
vendor-facts §12). A property can be used in writes and searches as soon as it exists.
"""

from __future__ import annotations

import re
from typing import Any

from healthsync.sandbox.hubspot.catalog import FIELD_TYPES, PropertyDef, PropertyGroup
from healthsync.sandbox.hubspot.errors import OBJECT_NOT_FOUND, VALIDATION_ERROR, api_error, standard_error
from healthsync.sandbox.hubspot.objects import read_body
from healthsync.sandbox.hubspot.state import HubSpotState
from healthsync.sandbox.hubspot.store import ObjectType, resolve_type
from healthsync.sandbox.hubspot.views import batch_envelope, parse_bool
from healthsync.sandbox.wire import ApiError, Request, Response, Router, json_response

__all__ = ["MAX_UNIQUE_PROPERTIES", "PropertyRoutes"]

MAX_UNIQUE_PROPERTIES = 10
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_EDITABLE = {
    "label": "label",
    "description": "description",
    "groupName": "group_name",
    "displayOrder": "display_order",
    "hidden": "hidden",
    "formField": "form_field",
}


def _bad(message: str) -> ApiError:
    return api_error(400, VALIDATION_ERROR, message)


def _options(raw: Any) -> list[dict[str, Any]]:
    options = []
    for i, option in enumerate(raw or []):
        if not isinstance(option, dict) or "value" not in option or "label" not in option:
            raise _bad("Each option needs a label and a value")
        options.append(
            {
                "label": str(option["label"]),
                "value": str(option["value"]),
                "displayOrder": int(option.get("displayOrder", i)),
                "hidden": bool(option.get("hidden", False)),
                "description": str(option.get("description") or ""),
            }
        )
    values = [o["value"] for o in options]
    if len(values) != len(set(values)):
        raise _bad("Option values must be unique")
    return options


def _check_kind(kind: str, field_type: str, options: list[dict[str, Any]]) -> None:
    if kind not in FIELD_TYPES:
        raise _bad(f"{kind} is not a valid property type; use one of {', '.join(sorted(FIELD_TYPES))}")
    if field_type not in FIELD_TYPES[kind]:
        raise _bad(f"{field_type} is not a valid fieldType for a property of type {kind}")
    if kind == "enumeration" and field_type in {"select", "radio", "checkbox"} and not options:
        raise _bad("Enumeration properties need at least one option")


class PropertyRoutes:
    """Property definitions and groups for every object type."""

    def __init__(self, state: HubSpotState, vendor: str) -> None:
        self.state = state
        self.vendor = vendor

    def register(self, router: Router) -> None:
        """Batch and group paths before `/{propertyName}`, which would otherwise swallow them."""
        base = "/crm/v3/properties/{objectType}"
        v = self.vendor
        router.add(v, "POST", base + "/batch/read", self.batch_read, "read")
        router.add(v, "POST", base + "/batch/create", self.batch_create)
        router.add(v, "POST", base + "/batch/archive", self.batch_archive)
        router.add(v, "GET", base + "/groups", self.list_groups)
        router.add(v, "POST", base + "/groups", self.create_group)
        router.add(v, "GET", base + "/groups/{groupName}", self.get_group)
        router.add(v, "PATCH", base + "/groups/{groupName}", self.update_group)
        router.add(v, "DELETE", base + "/groups/{groupName}", self.archive_group)
        router.add(v, "GET", base, self.list)
        router.add(v, "POST", base, self.create)
        router.add(v, "GET", base + "/{propertyName}", self.get)
        router.add(v, "PATCH", base + "/{propertyName}", self.update)
        router.add(v, "DELETE", base + "/{propertyName}", self.archive)

    def _find(self, object_type: ObjectType, name: str, *, archived: bool = False) -> PropertyDef:
        prop = self.state.properties[object_type.name].get(name)
        if prop is None or prop.archived != archived:
            raise api_error(404, OBJECT_NOT_FOUND, f"Unable to find property {name} on {object_type.name}")
        return prop

    def list(self, request: Request) -> Response:
        """Every live (or, with `archived=true`, archived) property of an object type."""
        object_type = resolve_type(request.params["objectType"])
        archived = parse_bool(request, "archived")
        with self.state.lock:
            props = [
                p.to_json()
                for p in self.state.properties[object_type.name].values()
                if p.archived == archived
            ]
        return json_response({"results": props})

    def get(self, request: Request) -> Response:
        """One property; 404 when unknown."""
        object_type = resolve_type(request.params["objectType"])
        with self.state.lock:
            prop = self._find(
                object_type, request.params["propertyName"], archived=parse_bool(request, "archived")
            )
            return json_response(prop.to_json())

    def _build(self, object_type: ObjectType, body: dict[str, Any]) -> PropertyDef:
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
        if missing:
            raise _bad(f"Missing required fields: {', '.join(missing)}")
        name = str(body["name"])
        if not _NAME.match(name):
            raise _bad(
                f"Property name {name!r} must start with a letter and use lowercase letters, digits and _"
            )
        if name in self.state.properties[object_type.name]:
            raise api_error(
                409,
                "OBJECT_ALREADY_EXISTS",
                f"A property named '{name}' already exists on {object_type.name}",
            )
        options = _options(body.get("options"))
        kind, field_type = str(body["type"]), str(body["fieldType"])
        _check_kind(kind, field_type, options)
        group = self.state.groups[object_type.name].get(str(body["groupName"]))
        if group is None or group.archived:
            raise _bad(f"Property group {body['groupName']} does not exist on {object_type.name}")
        unique = bool(body.get("hasUniqueValue", False))
        if unique:
            count = sum(1 for p in self.state.properties[object_type.name].values() if p.has_unique_value)
            if count >= MAX_UNIQUE_PROPERTIES:
                raise _bad(f"An object can have at most {MAX_UNIQUE_PROPERTIES} unique value properties")
        now = self.state.now()
        return PropertyDef(
            name,
            str(body["label"]),
            kind,
            field_type,
            group.name,
            description=str(body.get("description") or ""),
            options=options,
            has_unique_value=unique,
            hidden=bool(body.get("hidden", False)),
            display_order=int(body.get("displayOrder", -1)),
            form_field=bool(body.get("formField", False)),
            hubspot_defined=False,
            created_at=now,
            updated_at=now,
        )

    def _add(self, object_type: ObjectType, prop: PropertyDef) -> None:
        self.state.properties[object_type.name][prop.name] = prop
        if prop.has_unique_value:
            self.state.objects[object_type.name].index_unique(prop.name)

    def create(self, request: Request) -> Response:
        """Create one property; usable in writes immediately; 201."""
        object_type = resolve_type(request.params["objectType"])
        body = read_body(request)
        with self.state.lock:
            prop = self._build(object_type, body)
            self._add(object_type, prop)
            return json_response(prop.to_json(), 201)

    def batch_create(self, request: Request) -> Response:
        """Create several properties; failures are listed per input (207), the rest created (201)."""
        started = self.state.now()
        object_type = resolve_type(request.params["objectType"])
        results, errors = [], []
        with self.state.lock:
            for item in read_body(request).get("inputs") or []:
                try:
                    prop = self._build(object_type, item if isinstance(item, dict) else {})
                except ApiError as exc:
                    name = str((item or {}).get("name", "")) if isinstance(item, dict) else ""
                    errors.append(
                        standard_error(
                            exc.status,
                            exc.payload["category"],
                            exc.payload["message"],
                            context={"name": [name]},
                        )
                    )
                    continue
                self._add(object_type, prop)
                results.append(prop.to_json())
        return json_response(
            batch_envelope(results, started, self.state.now(), errors), 207 if errors else 201
        )

    def batch_read(self, request: Request) -> Response:
        """Several properties by name; 207 lists unknown names."""
        started = self.state.now()
        object_type = resolve_type(request.params["objectType"])
        body = read_body(request)
        archived = bool(body.get("archived", False))
        results, missing = [], []
        with self.state.lock:
            for item in body.get("inputs") or []:
                name = str((item or {}).get("name", "")) if isinstance(item, dict) else str(item)
                prop = self.state.properties[object_type.name].get(name)
                if prop is None or prop.archived != archived:
                    missing.append(name)
                else:
                    results.append(prop.to_json())
        errors = (
            [
                standard_error(
                    404, OBJECT_NOT_FOUND, "Some properties could not be found", context={"names": missing}
                )
            ]
            if missing
            else []
        )
        return json_response(
            batch_envelope(results, started, self.state.now(), errors), 207 if errors else 200
        )

    def _archive_one(self, object_type: ObjectType, name: str) -> None:
        prop = self.state.properties[object_type.name].get(name)
        if prop is None or prop.archived:
            return
        if prop.hubspot_defined:
            raise _bad(f"{name} is a HubSpot defined property and cannot be archived")
        prop.archived, prop.archived_at = True, self.state.now()

    def archive(self, request: Request) -> Response:
        """Archive a custom property; 204."""
        object_type = resolve_type(request.params["objectType"])
        with self.state.lock:
            self._find(object_type, request.params["propertyName"])
            self._archive_one(object_type, request.params["propertyName"])
        return Response(status=204)

    def batch_archive(self, request: Request) -> Response:
        """Archive several custom properties; 204."""
        object_type = resolve_type(request.params["objectType"])
        with self.state.lock:
            for item in read_body(request).get("inputs") or []:
                self._archive_one(object_type, str((item or {}).get("name", "")))
        return Response(status=204)

    def update(self, request: Request) -> Response:
        """Change a custom property's label, group, options, type or display settings."""
        object_type = resolve_type(request.params["objectType"])
        body = read_body(request)
        with self.state.lock:
            prop = self._find(object_type, request.params["propertyName"])
            if prop.hubspot_defined:
                raise _bad(f"{prop.name} is a HubSpot defined property; its definition is read only")
            options = _options(body["options"]) if "options" in body else prop.options
            kind = str(body.get("type", prop.type))
            field_type = str(body.get("fieldType", prop.field_type))
            _check_kind(kind, field_type, options)
            if "groupName" in body and str(body["groupName"]) not in self.state.groups[object_type.name]:
                raise _bad(f"Property group {body['groupName']} does not exist on {object_type.name}")
            for key, attr in _EDITABLE.items():
                if key in body:
                    setattr(prop, attr, body[key])
            prop.options, prop.type, prop.field_type = options, kind, field_type
            prop.updated_at = self.state.now()
            return json_response(prop.to_json())

    # --- groups ------------------------------------------------------------------------------

    def _group(self, object_type: ObjectType, name: str) -> PropertyGroup:
        group = self.state.groups[object_type.name].get(name)
        if group is None or group.archived:
            raise api_error(
                404, OBJECT_NOT_FOUND, f"Unable to find property group {name} on {object_type.name}"
            )
        return group

    def list_groups(self, request: Request) -> Response:
        """The live groups of an object type."""
        object_type = resolve_type(request.params["objectType"])
        with self.state.lock:
            groups = [g.to_json() for g in self.state.groups[object_type.name].values() if not g.archived]
        return json_response({"results": groups})

    def create_group(self, request: Request) -> Response:
        """Create a group; 409 OBJECT_ALREADY_EXISTS for a taken name; 201."""
        object_type = resolve_type(request.params["objectType"])
        body = read_body(request)
        if not body.get("name") or not body.get("label"):
            raise _bad("Missing required fields: name and label")
        name = str(body["name"])
        if not _NAME.match(name):
            raise _bad(
                f"Group name {name!r} must start with a letter and use lowercase letters, digits and _"
            )
        with self.state.lock:
            existing = self.state.groups[object_type.name].get(name)
            if existing is not None and not existing.archived:
                raise api_error(
                    409, "OBJECT_ALREADY_EXISTS", f"A property group named '{name}' already exists"
                )
            group = PropertyGroup(name, str(body["label"]), int(body.get("displayOrder", -1)))
            self.state.groups[object_type.name][name] = group
            return json_response(group.to_json(), 201)

    def get_group(self, request: Request) -> Response:
        """One group; 404 when unknown."""
        object_type = resolve_type(request.params["objectType"])
        with self.state.lock:
            return json_response(self._group(object_type, request.params["groupName"]).to_json())

    def update_group(self, request: Request) -> Response:
        """Change a group's label or display order."""
        object_type = resolve_type(request.params["objectType"])
        body = read_body(request)
        with self.state.lock:
            group = self._group(object_type, request.params["groupName"])
            group.label = str(body.get("label", group.label))
            group.display_order = int(body.get("displayOrder", group.display_order))
            return json_response(group.to_json())

    def archive_group(self, request: Request) -> Response:
        """Archive a group; 204."""
        object_type = resolve_type(request.params["objectType"])
        with self.state.lock:
            self._group(object_type, request.params["groupName"]).archived = True
        return Response(status=204)
