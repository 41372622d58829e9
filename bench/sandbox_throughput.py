"""How many requests per second the sandbox serves, so later benchmarks know it is not the bottleneck.

Starts `healthsync sandbox serve` in its own process (latency 0, rate limits off) and drives it from
this process with several keep-alive sessions for a fixed time per scenario:

- HubSpot: `GET /crm/v3/objects/companies?limit=100` pages (the vendor maximum), following `after`;
- Salesforce: SOQL `query` pages of 2,000 Accounts (the vendor maximum), following `nextRecordsUrl`.

Prints requests/s and records/s per scenario; asserts nothing (DESIGN.md section 12).

    .venv/bin/python bench/sandbox_throughput.py [--accounts 10000] [--seconds 10] [--clients 2] [--processes 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any
from urllib.parse import urlencode, urlsplit

SOQL = (
    "SELECT Id, Name, Website, OwnerId, AnnualRevenue, Customer_Key__c, Contract_Start__c, "
    "Contract_End__c, ARR__c, Licenses__c, Segment__c, SystemModstamp FROM Account ORDER BY Id"
)


# The client must not be the bottleneck on a 2-core machine: decoding a 2,000-record page costs it
# more than the server spends making it, and `requests` adds its own overhead per call. So each
# client is one keep-alive `http.client` connection that finds the cursor with a regex and counts
# records with bytes.count (one marker per record), both in C.
_HUBSPOT_AFTER = re.compile(rb'"next":\{"after":"([^"]+)"')
_SALESFORCE_NEXT = re.compile(rb'"nextRecordsUrl":"([^"]+)"')

Fetch = Callable[[str], bytes]


def hubspot_pages(info: dict[str, Any]) -> tuple[str, Callable[[Fetch, dict[str, Any]], int]]:
    """The base URL and a loop body: one HubSpot list page per call, wrapping around at the end."""
    query = "/crm/v3/objects/companies?limit=100&properties=name,domain,customer_key,arr,licenses"

    def one(fetch: Fetch, state: dict[str, Any]) -> int:
        after = state.get("after")
        body = fetch(query + (f"&after={after}" if after else ""))
        found = _HUBSPOT_AFTER.search(body, max(0, len(body) - 2000))
        state["after"] = found.group(1).decode() if found else None
        return body.count(b'"archived":')

    return info["hubspot"]["host"], one


def salesforce_pages(info: dict[str, Any]) -> tuple[str, Callable[[Fetch, dict[str, Any]], int]]:
    """The base URL and a loop body: one SOQL page of up to 2,000 records per call, restarting at the end."""
    sf = info["salesforce"]
    first = f"/services/data/v{sf.get('api_version', '62.0')}/query/?" + urlencode({"q": SOQL})

    def one(fetch: Fetch, state: dict[str, Any]) -> int:
        body = fetch(state.get("next") or first)
        found = _SALESFORCE_NEXT.search(body, 0, 400)
        state["next"] = found.group(1).decode() if found else None
        return body.count(b'"attributes":')

    return sf["instance_url"], one


def _connect(base: str, ca_bundle: str | None) -> http.client.HTTPConnection:
    url = urlsplit(base)
    if url.scheme == "https":
        context = ssl.create_default_context(cafile=ca_bundle)
        return http.client.HTTPSConnection(url.hostname or "", url.port, context=context, timeout=60)
    return http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)


def _drive(
    make: Callable[[dict[str, Any]], tuple[str, Callable[[Fetch, dict[str, Any]], int]]],
    info: dict[str, Any],
    token: str,
    ca_bundle: str | None,
    clients: int,
    seconds: float,
) -> tuple[int, int]:
    """Run `clients` keep-alive connections for `seconds` in this process; (requests, records)."""
    base, body = make(info)
    counts = [0] * clients
    records = [0] * clients
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        connection = _connect(base, ca_bundle)

        def fetch(path: str) -> bytes:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
            return data

        state: dict[str, Any] = {}
        try:
            while time.perf_counter() < deadline:
                records[index] += body(fetch, state)
                counts[index] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts), sum(records)


def run(
    name: str,
    make: Callable[[dict[str, Any]], tuple[str, Callable[[Fetch, dict[str, Any]], int]]],
    info: dict[str, Any],
    *,
    token: str,
    ca_bundle: str | None = None,
    clients: int,
    processes: int,
    seconds: float,
) -> None:
    """Drive one scenario with `clients` connections in each of `processes` processes and print figures.

    Decrypting ~1 MB pages is real work for the client: one Python process cannot read as fast as the
    server writes, so the load is spread over processes (their threads share no GIL).
    """
    started = time.perf_counter()
    with ProcessPoolExecutor(processes) as pool:
        futures = [
            pool.submit(_drive, make, info, token, ca_bundle, clients, seconds) for _ in range(processes)
        ]
        results = [f.result() for f in futures]
    elapsed = time.perf_counter() - started
    total = sum(r[0] for r in results)
    print(
        f"{name:<34} {total:>7} requests in {elapsed:5.1f} s = {total / elapsed:8.1f} req/s, "
        f"{sum(r[1] for r in results) / elapsed:>10.0f} records/s ({processes}×{clients} clients)"
    )


def run_wrk(name: str, url: str, token: str, seconds: float) -> None:
    """Measure the server alone with `wrk` (a C client; Debian package `wrk`) re-reading one page."""
    command = ["wrk", "-t2", "-c4", f"-d{max(1, int(seconds))}s", "-H", f"Authorization: Bearer {token}", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = {
        line.split(":")[0].strip(): line.split(":", 1)[1].strip() for line in out.splitlines() if ":" in line
    }
    errors = figures.get("Non-2xx or 3xx responses", "0")
    print(
        f"{name:<34} {figures.get('Requests/sec', '?'):>9} req/s, {figures.get('Transfer/sec', '?')}/s (wrk, non-2xx: {errors})"
    )


def _first_next_url(info: dict[str, Any]) -> str:
    sf = info["salesforce"]
    url = urlsplit(sf["instance_url"])
    connection = http.client.HTTPSConnection(
        url.hostname or "", url.port, context=ssl.create_default_context(cafile=sf["ca_bundle"])
    )
    path = f"/services/data/v{sf.get('api_version', '62.0')}/query/?" + urlencode({"q": SOQL})
    connection.request("GET", path, headers={"Authorization": f"Bearer {sf['access_token']}"})
    body = connection.getresponse().read()
    connection.close()
    found = _SALESFORCE_NEXT.search(body, 0, 400)
    if found is None:
        raise RuntimeError("the query fits one page: use more --accounts")
    return str(sf["instance_url"]) + found.group(1).decode()


def main() -> None:
    """Start the sandbox, run both scenarios, stop it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2, help="connections per client process")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    args = parser.parse_args()

    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "healthsync.cli", "sandbox", "serve", "--accounts", str(args.accounts)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        print(f"sandbox with {args.accounts} accounts ready in {time.perf_counter() - started:.1f} s")
        run(
            "hubspot companies, 100/page",
            hubspot_pages,
            info,
            token=info["hubspot"]["access_token"],
            clients=args.clients,
            processes=args.processes,
            seconds=args.seconds,
        )
        run(
            "salesforce Account SOQL, 2,000/page",
            salesforce_pages,
            info,
            token=info["salesforce"]["access_token"],
            ca_bundle=info["salesforce"]["ca_bundle"],
            clients=args.clients,
            processes=args.processes,
            seconds=args.seconds,
        )
        if shutil.which("wrk"):
            # The Python clients above share the 2 cores with the server and decrypt ~1 MB pages
            # themselves; a C client shows what the server alone sustains.
            run_wrk(
                "hubspot companies, 100/page",
                f"{info['hubspot']['host']}/crm/v3/objects/companies?"
                "limit=100&properties=name,domain,customer_key,arr,licenses",
                info["hubspot"]["access_token"],
                args.seconds,
            )
            run_wrk(
                "salesforce Account SOQL, 2,000/page",
                _first_next_url(info),
                info["salesforce"]["access_token"],
                args.seconds,
            )
        else:
            print("(install Debian's wrk to also measure the server alone with a C client)")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
