"""Validate sandbox responses against the vendors' published OpenAPI descriptions.

The specs live in `../shared/vendor-specs/` (their licences forbid copying them into this
repository); tests that need one skip with a reason when it is absent. Validation is a real schema
validator (OpenAPI 3.0 dialect: `nullable`, `$ref` into components), not a comparison of keys.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPECS_DIR = Path(
    os.environ.get("HEALTHSYNC_VENDOR_SPECS", Path(__file__).resolve().parents[3] / "shared" / "vendor-specs")
)


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader that reads YAML's rarely used `=` (value) tag as a plain string, as Zendesk's OAS uses it."""


_SpecLoader.add_constructor(
    "tag:yaml.org,2002:value",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


@functools.cache
def load_spec(relative: str) -> dict[str, Any]:
    """Load a spec file under the vendor-specs folder, or skip the test when it is not there."""
    path = SPECS_DIR / relative
    if not path.exists():
        pytest.skip(f"vendor spec {relative} not found under {SPECS_DIR} (set HEALTHSYNC_VENDOR_SPECS)")
    text = path.read_text(encoding="utf-8")
    if path.suffix in {".yaml", ".yml"}:
        return yaml.load(text, Loader=_SpecLoader)  # noqa: S506 - SafeLoader subclass
    return json.loads(text)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _template_regex(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
    return re.compile(f"^{pattern}/?$")


def find_operation(spec: dict[str, Any], method: str, path: str) -> str:
    """The spec's path template for a concrete request path (`/crm/v3/objects/companies/123` → `.../{companyId}`)."""
    candidates = [
        t for t in spec["paths"] if _template_regex(t).match(path) and method.lower() in spec["paths"][t]
    ]
    if not candidates:
        raise AssertionError(f"{method} {path} is not described by the spec")
    # Prefer the most literal template: `/batch/read` over `/{companyId}`.
    return min(candidates, key=lambda t: t.count("{"))


def assert_matches_spec(spec_file: str, method: str, path: str, status: int, body: Any) -> None:
    """Fail with the validator's message unless `body` is a valid `status` response of `method path`."""
    spec = load_spec(spec_file)
    template = find_operation(spec, method, path)
    responses = spec["paths"][template][method.lower()]["responses"]
    key = str(status) if str(status) in responses else "default"
    if key not in responses:
        raise AssertionError(f"{method} {template} documents no {status} response (has {sorted(responses)})")
    pointer = f"#/paths/{_escape(template)}/{method.lower()}/responses/{key}"
    response = responses[key]
    if "$ref" in response:
        pointer = response["$ref"]
        response = _resolve(spec, pointer)
    content = response.get("content", {})
    media = next((m for m in content if "json" in m), "*/*" if "*/*" in content else None)
    if media is None:
        return  # documented without a body schema: nothing to check
    schema_ref = {"$ref": f"urn:spec{pointer}/content/{_escape(media)}/schema"}
    validator = OAS30Validator(schema_ref, registry=_registry(spec_file))
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise AssertionError(
            f"{method} {path} → {status} does not match {spec_file} {template}: at {where}: {first.message}"
            f" ({len(errors)} problem(s))"
        )


def _resolve(spec: dict[str, Any], pointer: str) -> Any:
    node: Any = spec
    for token in pointer.lstrip("#/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


@functools.cache
def _registry(spec_file: str) -> Registry:
    resource = Resource.from_contents(load_spec(spec_file), default_specification=DRAFT4)
    return Registry().with_resource("urn:spec", resource)
