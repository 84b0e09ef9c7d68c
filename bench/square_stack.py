"""The Square + FIRS stack the POS benches run against, set up once here.

Importing this module picks free ports for the FIRS sandbox, the Square
sandbox and the web server, points the settings at them (before Django is
set up) and sets Django up; `bench/pos_realtime.py` and `bench/pos_eod.py`
then start the processes they measure inside `running_stack()`. Also: the CPU sampler by process
class, percentiles, `machine_speed_ms()` (the machine's own speed, printed
beside every run), and `square_merchant()` (a FIRS-registered organization
with a Square connection holding a real sandbox token).
"""
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FIRS_PORT, SQUARE_PORT, WEB_PORT = free_port(), free_port(), free_port()
WEB = f"http://127.0.0.1:{WEB_PORT}"
FIRS = f"http://127.0.0.1:{FIRS_PORT}"
SQUARE = f"http://127.0.0.1:{SQUARE_PORT}"
SIGNATURE_KEY = "bench-square-signature-key"
os.environ.update(DJANGO_SETTINGS_MODULE="taxpoynt.settings", SANDBOX_PORT_FIRS=str(FIRS_PORT),
                  SANDBOX_PORT_SQUARE=str(SQUARE_PORT), FIRS_BASE_URL=FIRS, SQUARE_BASE_URL=SQUARE,
                  PUBLIC_BASE_URL=WEB, SQUARE_WEBHOOK_SIGNATURE_KEY=SIGNATURE_KEY, LOG_LEVEL="WARNING")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.utils import timezone  # noqa: E402

from integrations.connections.models import Connection  # noqa: E402
from integrations.pos.square import services  # noqa: E402
from taxpoynt.tenancy.services import organization_create  # noqa: E402


def pct(values, p):
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[p - 1], 2)


def machine_speed_ms(rounds: int = 5) -> float:
    """CPU ms the calling thread spends on a fixed pure-Python workload (JSON,
    Decimal sums, SHA-256: what a sale's path is made of), the fastest of
    `rounds` (the slower ones met interference). This machine shares its
    host, and its speed moves by tens of percent within minutes: the same
    code confirmed 90 and 70 sales/s hours apart (docs/performance.md). So
    the benches print it beside their figures, to compare runs with. The
    thread's CPU, not the process's, so a bench can sample it from a thread
    of its own while its other threads send."""
    lines = [{"description": f"item {i}", "quantity": str(Decimal(i) / 7)} for i in range(200)]
    spent = []
    for _ in range(rounds):
        t0 = time.thread_time()
        for _ in range(40):
            text = json.dumps({"lines": lines})
            hashlib.sha256(text.encode()).hexdigest()
            sum(Decimal(line["quantity"]) for line in json.loads(text)["lines"])
        spent.append(time.thread_time() - t0)
    return round(min(spent) * 1000, 1)


@contextlib.contextmanager
def machine_speed_sampled(every_seconds: float = 5.0):
    """The machine's speed (machine_speed_ms, one round) every few seconds
    from a thread of its own while the block runs: a list, filled as it goes.
    Before and after say how fast the machine was when quiet; this says how
    fast it was with every core busy, which moved within a run."""
    samples: list[float] = []
    stop = threading.Event()

    def sample():
        while not stop.wait(every_seconds):
            samples.append(machine_speed_ms(rounds=1))

    sampler = threading.Thread(target=sample, name="machine-speed", daemon=True)
    sampler.start()
    try:
        yield samples
    finally:
        stop.set()
        sampler.join()


# Which part of the stack a process is, by its command line (Linux /proc).
PROCESS_CLASSES = (("celery", "worker"), ("gunicorn", "web"), ("sandboxes", "sandboxes"),
                   ("postgres", "postgresql"), ("redis-server", "redis"), ("bench/pos_", "bench"))


def cpu_by_process() -> tuple[dict[str, float], float]:
    """CPU seconds so far per process class, and the machine's busy seconds.
    A process counts its reaped children too (cutime/cstime): a PostgreSQL
    backend recycled mid-run lands in the postmaster's figure, never lost."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        name = next((label for key, label in PROCESS_CLASSES if key in cmd), "other")
        out[name] = out.get(name, 0.0) + sum(int(f) for f in fields[11:15]) / tick
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return out, (sum(values) - values[3] - values[4]) / tick


def cpu_share(before, after, seconds) -> dict[str, float]:
    """Percent of one core per process class between two cpu_by_process() readings."""
    (procs0, busy0), (procs1, busy1) = before, after
    share = {k: round((procs1.get(k, 0.0) - procs0.get(k, 0.0)) / seconds * 100, 1) for k in procs1}
    share["machine busy"] = round((busy1 - busy0) / seconds * 100, 1)
    return dict(sorted(share.items(), key=lambda kv: -kv[1]))


def print_cpu(during: str, share: dict[str, float]) -> None:
    print(f"  CPU while {during} (% of one core): " + ", ".join(f"{k} {v}" for k, v in share.items()))


def wait_http(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def start_sandboxes(env, *, firs_latency_ms: int = 0) -> subprocess.Popen:
    """The FIRS and Square sandboxes in one process of their own (as the
    vendors would be: not in the measured worker), answering once this returns."""
    proc = subprocess.Popen([sys.executable, "manage.py", "sandboxes", "--only", "firs", "square"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(FIRS + "/_sandbox/requests")
    wait_http(SQUARE + "/_sandbox/state")
    latency = {"mode": "fixed", "ms": firs_latency_ms} if firs_latency_ms else {"mode": "none"}
    httpx.post(FIRS + "/_sandbox/latency", json=latency).raise_for_status()
    return proc


def celery_worker(env, *, queues: str, name: str, pool: str = "prefork", concurrency: int = 4,
                  nice: int = 0) -> subprocess.Popen:
    return subprocess.Popen(
        ["nice", "-n", str(nice), sys.executable, "-m", "celery", "-A", "taxpoynt", "worker",
         "-Q", queues, "--pool", pool, "-c", str(concurrency), "--prefetch-multiplier", "1",
         "-n", f"{name}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle",
         "--loglevel", "WARNING"], cwd=ROOT, env=env)


def celery_beat(env) -> subprocess.Popen:
    """The scheduler as deployed (django-celery-beat's database schedule): it
    runs the due-submission sweep every 5 s, which takes a FIRS retry (a
    timeout's backoff) that no live task holds."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "taxpoynt", "beat", "--loglevel", "WARNING",
         "--pidfile=", "-s", os.path.join(tempfile.gettempdir(), f"posbench-beat-{os.getpid()}")],
        cwd=ROOT, env=env)


def square_merchant(org=None, *, merchant_id: str | None = None):
    """(org, connection): a Square connection holding a real sandbox token of
    `merchant_id` (the sandbox's default seller if None), its locations
    mirrored, on `org` (if None, a new organization with its own FIRS
    business and credentials)."""
    if org is None:
        b = httpx.post(FIRS + "/_sandbox/businesses", json={}).json()
        httpx.post(FIRS + "/_sandbox/webhook", json={"business_id": b["business_id"], "url": "http://127.0.0.1:9/firs"})
        tag = uuid.uuid4().hex[:8]
        org = organization_create(name=f"POS bench {tag}", tin=b["tin"], email="billing@bench.example.ng",
                                  telephone="+2348012345678", street_name="12 Adeola Odeku Street",
                                  city_name="Lagos", postal_zone="101241",
                                  firs_business_id=uuid.UUID(b["business_id"]), firs_service_id=b["service_id"],
                                  firs_api_key=b["api_key"], firs_api_secret=b["api_secret"],
                                  firs_crypto_keys=b["crypto_keys"])
    tokens = httpx.post(SQUARE + "/_sandbox/tokens", json={"merchant_id": merchant_id} if merchant_id else {}).json()
    conn = Connection.objects.create(
        organization=org, vendor="square", kind="pos", status="connected", external_account_id=tokens["merchant_id"],
        credentials=json.dumps({"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"],
                                "merchant_id": tokens["merchant_id"], "pkce": False}),
        token_expires_at=timezone.now() + dt.timedelta(days=30))
    services.locations_refresh(connection=conn)
    return org, conn


def seed_sales(*, count: int, start: dt.datetime, end: dt.datetime, location_ids: list[str] | None = None) -> None:
    """`count` completed sales in the Square sandbox between start and end (no
    webhooks), at `location_ids` (every location if None)."""
    httpx.post(SQUARE + "/_sandbox/sales/history", timeout=3600, json={
        "count": count, "start_at": start.isoformat(), "end_at": end.isoformat(),
        **({"location_ids": location_ids} if location_ids else {})}).raise_for_status()


def completed_orders(conn, location_ids: list[str]) -> list[dict]:
    """The completed orders at `location_ids`, oldest first, read through the connection's token."""
    with services.client_for(conn) as client:
        return [order for page in client.iter_order_pages(location_ids=location_ids, limit=1000, query={
            "filter": {"state_filter": {"states": ["COMPLETED"]}},
            "sort": {"sort_field": "CREATED_AT", "sort_order": "ASC"}}) for order in page.orders]


@contextlib.contextmanager
def running_stack(*, metrics_prefix: str):
    """(env, procs) for a bench: `env` gives its processes one temporary
    prometheus multiprocess directory (as deployed, docs/deployment.md);
    every process appended to `procs` is stopped at the end (TERM, then
    KILL after 20 s), the broker's queues are purged before and after, and
    the directory is removed."""
    from taxpoynt.celery import app

    metrics_dir = tempfile.mkdtemp(prefix=metrics_prefix)
    procs: list[subprocess.Popen] = []
    app.control.purge()
    try:
        yield dict(os.environ, PROMETHEUS_MULTIPROC_DIR=metrics_dir), procs
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        app.control.purge()
        shutil.rmtree(metrics_dir, ignore_errors=True)
