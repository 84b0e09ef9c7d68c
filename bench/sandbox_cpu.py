"""CPU the FIRS and Square sandboxes spend a request: a live sale's FIRS
calls (validate → sign → transmit → confirm, the bodies built by the
product's own mapping and payload builder from the Square sandbox's random
sales) and a 10-order BatchRetrieveOrders (the worker reads a backlog's
sales ten at a time). First straight through each WSGI app in this process,
then through the real server: `manage.py sandboxes --only firs square` in a
process of its own, as bench/pos_realtime.py runs it (cheroot, via
taxpoynt.sandboxing), each step's calls sent one after another over one
keep-alive connection. No database, no broker.

    .venv/bin/python bench/sandbox_cpu.py [--sales 200] [--rounds 5] [--profile 25]

Each figure is the fastest of --rounds rounds (the slower ones met
interference), in µs of CPU a request. WSGI: this process's CPU across the
round (a transmit's webhook deliveries run in the sandbox's own threads; the
business's webhook URL refuses connections, as in bench/pos_realtime.py).
Server: the sandboxes process's CPU (every thread's, from
/proc/<pid>/task/*/schedstat, in ns) across the round, so what the client
costs is left out, as it is when the clients are the product's processes.
`per_sale` adds the four FIRS steps and a tenth of a batch: the sandboxes'
share of one sale in bench/pos_realtime.py.

`--profile N` prints the top N functions by own time of a cProfile of one
more WSGI round (not counted; this thread only). Ends with one JSON line,
with `machine_speed_ms` (square_stack.machine_speed_ms) before and after to
compare hosts.
"""
import argparse
import cProfile
import dataclasses
import datetime as dt
import http.client
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Ports and settings for the sandboxes process, django.setup() (see square_stack's docstring).
from square_stack import FIRS, SQUARE, machine_speed_ms, start_sandboxes  # noqa: E402

import httpx  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from integrations.pos.square import constants as square_constants  # noqa: E402
from integrations.pos.square.mapping import order_to_canonical  # noqa: E402
from invoicing.canonical import Party  # noqa: E402
from invoicing.firs import codes  # noqa: E402
from invoicing.firs.irn import build_irn  # noqa: E402
from invoicing.firs.payload import build_firs_payload, payload_json  # noqa: E402
from invoicing.tax import compute_totals  # noqa: E402
from taxpoynt import sandboxing  # noqa: E402

FIRS_STEPS = ("validate", "sign", "transmit", "confirm")
BATCH = 10
EXPECTED = {"validate": 200, "sign": 201, "transmit": 200, "confirm": 200, "batch_retrieve_10": 200}
# A refused connection, as bench/square_stack.square_merchant sets it.
WEBHOOK_URL = "http://127.0.0.1:9/firs"
HISTORY_END = dt.datetime(2026, 12, 1, 12, tzinfo=dt.timezone.utc)


@dataclasses.dataclass
class Call:
    method: str
    path: str
    headers: dict
    body: bytes = b""


@dataclasses.dataclass
class Business:
    """What the calls need of a FIRS sandbox business."""
    business_id: str
    service_id: str
    tin: str
    name: str
    api_key: str
    api_secret: str


def firs_calls(business: Business, orders: list[dict], tag: str) -> dict[str, list[Call]]:
    """The four FIRS calls of each sale, the body built as the product builds
    it (Square order → canonical → totals → FIRS payload JSON), the headers
    invoicing.firs.client.FirsClient's and httpx's."""
    supplier = Party(name=business.name, tin=business.tin, email="billing@bench.example.ng",
                     telephone="+2348012345678", street_name="12 Adeola Odeku Street", city_name="Lagos",
                     postal_zone="101241")
    headers = {codes.API_KEY_HEADER: business.api_key, codes.API_SECRET_HEADER: business.api_secret,
               "accept": "application/json", "user-agent": "TaxPoynt-FIRS-client",
               "accept-encoding": "gzip, deflate"}
    json_headers = {**headers, "content-type": "application/json"}
    calls = {step: [] for step in FIRS_STEPS}
    for n, order in enumerate(orders):
        canonical = order_to_canonical(order)
        number = f"SQ{tag}{n:05d}"
        irn = build_irn(invoice_number=number, service_id=business.service_id, issue_date=canonical.issue_date)
        canonical = dataclasses.replace(canonical, supplier=supplier, number=number, irn=irn)
        body = payload_json(build_firs_payload(canonical, compute_totals(canonical),
                                               business_id=business.business_id))
        calls["validate"].append(Call("POST", codes.API_PREFIX + "/invoice/validate", json_headers, body))
        calls["sign"].append(Call("POST", codes.API_PREFIX + "/invoice/sign", json_headers, body))
        calls["transmit"].append(Call("POST", codes.API_PREFIX + f"/invoice/transmit/{irn}", headers))
        calls["confirm"].append(Call("GET", codes.API_PREFIX + f"/invoice/confirm/{irn}", headers))
    return calls


def batch_calls(token: str, order_ids: list[str]) -> list[Call]:
    """BatchRetrieveOrders of ten ids each, with integrations.pos.square.client's headers and httpx's."""
    headers = {"Square-Version": square_constants.SQUARE_VERSION, "Accept": "application/json",
               "Authorization": f"Bearer {token}", "User-Agent": f"python-httpx/{httpx.__version__}",
               "Accept-Encoding": "gzip, deflate", "Content-Type": "application/json"}
    return [Call("POST", "/v2/orders/batch-retrieve", headers,
                 json.dumps({"order_ids": order_ids[i:i + BATCH]}).encode())
            for i in range(0, len(order_ids) - BATCH + 1, BATCH)]


def round_calls(business, orders, token, tag) -> dict[str, list[Call]]:
    calls = firs_calls(business, orders, tag)
    calls["batch_retrieve_10"] = batch_calls(token, [o["id"] for o in orders])
    return calls


def _check(statuses, expect):
    bad = [s for s in statuses if s != expect]
    if bad:
        raise SystemExit(f"unexpected answers: {bad[:3]}")


def run_wsgi(app, calls: list[Call], expect: int, after=None, profile=None) -> float:
    """This process's CPU µs a call, straight through the WSGI app (`profile`,
    if given, profiles the calls only)."""
    environs = [EnvironBuilder(path=c.path, method=c.method, headers=c.headers, data=c.body or None,
                               base_url="http://127.0.0.1:8000").get_environ() for c in calls]
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(int(status[:3]))

    if profile:
        profile.enable()
    t0 = time.process_time()
    for environ in environs:
        result = app(environ, start_response)
        b"".join(result)
        if hasattr(result, "close"):
            result.close()
    if after:
        after()
    spent = time.process_time() - t0
    if profile:
        profile.disable()
    _check(statuses, expect)
    return spent / len(calls) * 1e6


def process_cpu_ns(pid: int) -> int:
    """CPU ns so far of every live thread of process `pid`."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def run_server(pid: int, url: str, calls: list[Call], expect: int, settle=None) -> float:
    """The server process's CPU µs a call, the calls sent one after another
    on one keep-alive connection; `settle` waits for work the calls left
    running there (a transmit's webhook deliveries)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    conn.connect()
    statuses = []
    before = process_cpu_ns(pid)
    for c in calls:
        conn.request(c.method, c.path, body=c.body or None, headers=c.headers)
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)
    if settle:
        settle()
    spent = process_cpu_ns(pid) - before
    conn.close()
    _check(statuses, expect)
    return spent / len(calls) / 1000


def local_world(sales: int):
    """The WSGI apps in this process: (firs app, square app, business, orders, token)."""
    firs_app = sandboxing.create_app("firs", seed=1)
    square_app = sandboxing.create_app("square", seed=1, locations=1)
    b = firs_app.sandbox.register_business(name="Bench Sandbox Ltd", webhook_url=WEBHOOK_URL)
    square = square_app.sandbox
    square.seed_history(count=sales, start=HISTORY_END - dt.timedelta(hours=6), end=HISTORY_END)
    token = square.issue_token()["access_token"]
    orders = [square.get_order(oid, square.default_merchant_id) for oid in list(square.orders)]
    business = Business(b.business_id, b.service_id, b.tin, b.name, b.api_key, b.api_secret)
    return firs_app, square_app, business, orders, token


def served_world(sales: int):
    """The same through the sandboxes process's control and public APIs:
    (business, orders, token)."""
    b = httpx.post(FIRS + "/_sandbox/businesses", json={"name": "Bench Sandbox Ltd"}).json()
    httpx.post(FIRS + "/_sandbox/webhook", json={"business_id": b["business_id"], "url": WEBHOOK_URL})
    made = httpx.post(SQUARE + "/_sandbox/merchants", json={"business_name": "Bench seller", "locations": 1}).json()
    token = httpx.post(SQUARE + "/_sandbox/tokens", json={"merchant_id": made["merchant"]["id"]}).json()
    location_id = made["locations"][0]["id"]
    httpx.post(SQUARE + "/_sandbox/sales/history", timeout=600, json={
        "count": sales, "start_at": (HISTORY_END - dt.timedelta(hours=6)).isoformat(),
        "end_at": HISTORY_END.isoformat(), "location_ids": [location_id]}).raise_for_status()
    headers = {"Authorization": f"Bearer {token['access_token']}", "Square-Version": square_constants.SQUARE_VERSION}
    orders = httpx.post(SQUARE + "/v2/orders/search", headers=headers, json={
        "location_ids": [location_id], "limit": 1000}).json()["orders"]
    business = Business(b["business_id"], b["service_id"], b["tin"], b["name"], b["api_key"], b["api_secret"])
    return business, orders[:sales], token["access_token"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=200, help="sales a round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0, help="print this many lines of a cProfile (WSGI)")
    args = parser.parse_args()

    speed_before = machine_speed_ms()
    figures = {}

    # Straight through the WSGI apps, in this process.
    firs_app, square_app, business, orders, token = local_world(args.sales)
    profile = cProfile.Profile() if args.profile else None
    rounds: dict[str, list[float]] = {k: [] for k in EXPECTED}
    for r in range(args.rounds + (1 if profile else 0)):
        profiling = profile if r == args.rounds else None  # one more round, not counted
        for step, step_calls in round_calls(business, orders, token, f"W{r}").items():
            app = square_app if step == "batch_retrieve_10" else firs_app
            after = firs_app.sandbox.join_webhooks if step == "transmit" else None
            spent = run_wsgi(app, step_calls, EXPECTED[step], after, profiling)
            if not profiling:
                rounds[step].append(spent)
    figures["wsgi"] = {step: round(min(values), 1) for step, values in rounds.items()}
    firs_app.sandbox.close()
    square_app.sandbox.close()

    # Through the server, in a process of its own.
    proc = start_sandboxes(dict(os.environ))
    try:
        business, orders, token = served_world(args.sales)
        rounds = {k: [] for k in EXPECTED}
        for r in range(args.rounds):
            for step, step_calls in round_calls(business, orders, token, f"S{r}").items():
                url = SQUARE if step == "batch_retrieve_10" else FIRS
                settle = (lambda: time.sleep(0.5)) if step == "transmit" else None
                rounds[step].append(run_server(proc.pid, url, step_calls, EXPECTED[step], settle))
        figures["server"] = {step: round(min(values), 1) for step, values in rounds.items()}
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    for values in figures.values():
        values["per_sale"] = round(sum(values[s] for s in FIRS_STEPS) + values["batch_retrieve_10"] / BATCH, 1)
    if profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.profile)
        print(out.getvalue())
    print(f"µs of CPU a request (fastest of {args.rounds} rounds of {args.sales} sales)")
    for path, values in figures.items():
        print(f"  {path:8} " + "  ".join(f"{k} {v}" for k, v in values.items()))
    print(json.dumps({"sales": args.sales, "rounds": args.rounds, "cpu_us": figures,
                      "machine_speed_ms_before": speed_before, "machine_speed_ms_after": machine_speed_ms()}))


if __name__ == "__main__":
    main()
