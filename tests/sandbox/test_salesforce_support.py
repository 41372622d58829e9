"""Shared helpers for the Salesforce sandbox tests (no tests here).

`salesforce()` starts a sandbox with only the Salesforce app and connects the *unmodified*
simple-salesforce to it exactly as a user would: `instance_url` + `session_id` + a requests session
trusting the sandbox CA. `wsdl_shape()` checks a JSON object against a Partner WSDL complexType
(the Salesforce spec files are a WSDL and Postman request dumps without response bodies, so the WSDL
types are the oracle for keys, value types and enumerations).
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest
import requests
from helpers.data import NOW, crm_dataset, customer_accounts
from simple_salesforce import Salesforce
from specs import SPECS_DIR

from healthsync.sandbox import Sandbox
from healthsync.sandbox.dataset import Dataset
from healthsync.sandbox.salesforce import SalesforceApp

WSDL = SPECS_DIR / "salesforce" / "partner-v58.wsdl"
POSTMAN = SPECS_DIR / "salesforce" / "postman-salesforce-apis-2021"
_XSD = "{http://www.w3.org/2001/XMLSchema}"


@contextmanager
def salesforce(dataset: Dataset | None, **options: Any) -> Iterator[tuple[Sandbox, Salesforce]]:
    """A running sandbox with the Salesforce app, and simple-salesforce connected to it."""
    options.setdefault("start", NOW)
    with (
        Sandbox(dataset=dataset, apps=[SalesforceApp], generate=False, **options) as box,
        requests.Session() as session,
    ):
        info = box.info()["salesforce"]
        session.verify = info["ca_bundle"]
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment override
        # `session.verify` (psf/requests#3829); a session that trusts only our CA must opt out.
        session.trust_env = False
        sf = Salesforce(
            instance_url=info["instance_url"],
            session_id=info["access_token"],
            version=info["api_version"],
            session=session,
        )
        yield box, sf


def app(box: Sandbox) -> SalesforceApp:
    """The sandbox's Salesforce app, for fault hooks and settings."""
    return cast(SalesforceApp, box.app("salesforce"))


def http(sf: Salesforce, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A raw call under `/services/data/vXX.X/` with the session's token (status codes and headers)."""
    headers = {"Authorization": f"Bearer {sf.session_id}", **kwargs.pop("headers", {})}
    return sf.session.request(method, sf.base_url + path, headers=headers, timeout=30, **kwargs)


def dataset(tmp_path: Path, count: int) -> Dataset:
    """A dataset of `count` CRM accounts (`helpers.data.customer_accounts`), no tickets, for paging tests."""
    return crm_dataset(tmp_path, customer_accounts(count))


# --- WSDL shapes ----------------------------------------------------------------------------------


@functools.cache
def _wsdl() -> tuple[dict[str, list[dict[str, str]]], dict[str, set[str]]]:
    if not WSDL.exists():
        pytest.skip(f"{WSDL} not found (set HEALTHSYNC_VENDOR_SPECS)")
    root = ET.parse(WSDL).getroot()  # noqa: S314 - a local, trusted vendor file
    complex_types: dict[str, list[dict[str, str]]] = {}
    enums: dict[str, set[str]] = {}
    for node in root.iter(f"{_XSD}complexType"):
        name = node.get("name")
        sequence = node.find(f"{_XSD}sequence")
        if name and sequence is not None and name not in complex_types:
            complex_types[name] = [dict(e.attrib) for e in sequence.findall(f"{_XSD}element")]
    for node in root.iter(f"{_XSD}simpleType"):
        name = node.get("name")
        values = {e.get("value", "") for e in node.iter(f"{_XSD}enumeration")}
        if name and values and name not in enums:
            enums[name] = values
    return complex_types, enums


def _check_scalar(kind: str, value: Any, where: str, enums: dict[str, set[str]]) -> None:
    local = kind.split(":")[-1]
    if local == "boolean":
        assert isinstance(value, bool), f"{where}: {value!r} is not a boolean"
    elif local in {"int", "long"}:
        assert isinstance(value, int), f"{where}: {value!r} is not an int"
        assert not isinstance(value, bool), f"{where}: {value!r} is not an int"
    elif local in {"string", "ID", "base64Binary"}:
        assert isinstance(value, str), f"{where}: {value!r} is not a string"
    elif local in enums:
        assert value in enums[local], f"{where}: {value!r} is not a {local} value"


def wsdl_shape(
    type_name: str, value: Any, where: str = "", *, rest_extras: frozenset[str] = frozenset()
) -> None:
    """Assert `value` has the WSDL complexType's keys, with WSDL-typed values (recursively).

    Optional (`minOccurs="0"`) or nillable elements may be null or absent; keys the WSDL does not
    name fail unless listed in `rest_extras` (REST adds e.g. `urls` and `attributes`).
    """
    complex_types, enums = _wsdl()
    where = where or type_name
    assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
    elements = complex_types[type_name]
    known = {e["name"] for e in elements}
    unknown = set(value) - known - rest_extras
    assert not unknown, f"{where}: keys not in WSDL {type_name}: {sorted(unknown)}"
    for element in elements:
        name, kind = element["name"], element["type"]
        optional = element.get("minOccurs") == "0" or element.get("nillable") == "true"
        if name not in value or value[name] is None:
            assert optional, f"{where}: required {type_name}.{name} is missing or null"
            continue
        items = value[name] if element.get("maxOccurs") == "unbounded" else [value[name]]
        if element.get("maxOccurs") == "unbounded":
            assert isinstance(items, list), f"{where}.{name}: expected a list"
        local = kind.split(":")[-1]
        for i, item in enumerate(items):
            at = f"{where}.{name}[{i}]" if element.get("maxOccurs") == "unbounded" else f"{where}.{name}"
            if local in complex_types and local not in enums:
                if item is not None:
                    wsdl_shape(local, item, at, rest_extras=frozenset({"urls"}))
            else:
                _check_scalar(kind, item, at, enums)


def status_codes() -> set[str]:
    """Every `StatusCode` value of the Partner WSDL."""
    return _wsdl()[1]["StatusCode"]


def exception_codes() -> set[str]:
    """Every `ExceptionCode` value of the Partner WSDL (request-level errors such as MALFORMED_QUERY)."""
    return _wsdl()[1]["ExceptionCode"]
