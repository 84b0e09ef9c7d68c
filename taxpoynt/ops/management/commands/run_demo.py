"""`make demo`'s foreground process: the sandboxes, the workers and beat (when a
broker is configured), the web server, and the demo world (HubSpot connected
with deals, Square with live sales) — until Ctrl-C.

The workers, beat and web are child processes sharing one fresh
PROMETHEUS_MULTIPROC_DIR, so `/metrics` shows what the workers measured."""
import os
import shutil
import subprocess
import sys
import threading
import time

import httpx
from django.conf import settings
from django.db import connection as db_connection
from django.core.management.base import BaseCommand

from taxpoynt import sandboxing
from taxpoynt.ops import demo
from taxpoynt.ops.management.commands.demo_setup import DEMO_EMAIL, DEMO_PASSWORD
from taxpoynt.tenancy.models import Organization


def fresh_metrics_dir() -> str:
    """An empty var/prometheus: files left by an earlier run would be summed
    into this run's counters (prometheus_client's multiprocess mode)."""
    path = settings.BASE_DIR / "var" / "prometheus"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return str(path)


class Command(BaseCommand):
    help = "Run the demo: sandboxes + workers + web server on 127.0.0.1:8000, with a demo world."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--no-world", action="store_true", help="Do not connect vendors or seed data.")

    def handle(self, *args, addr, no_world, **options):
        base_url = f"http://{addr}"
        running = {}
        for name in sorted(sandboxing.available()):
            try:
                running[name] = sandboxing.start(name)
                self.stdout.write(f"sandbox {name:<12} {running[name].url}")
            except OSError as exc:
                self.stderr.write(f"sandbox {name} not started: {exc}")
        processes = []
        env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=fresh_metrics_dir())
        if settings.CELERY_TASK_ALWAYS_EAGER:
            self.stdout.write("tasks run in-process (no REDIS_URL): SQLite zero-setup mode")
        else:
            celery = [sys.executable, "-m", "celery", "-A", "taxpoynt"]
            processes.append(subprocess.Popen(celery + ["worker", "-Q", "pos_realtime", "-c", "2", "-n",
                                                        "pos@%h", "--loglevel", "WARNING"], env=env))
            processes.append(subprocess.Popen(celery + ["worker", "-Q", "crm,batch,sync", "-c", "2", "-n",
                                                        "main@%h", "--loglevel", "WARNING"], env=env))
            processes.append(subprocess.Popen(celery + ["beat", "--loglevel", "WARNING"], env=env))
            self.stdout.write("workers: pos_realtime (own pool), crm+batch+sync; beat started")
        if no_world:
            pass
        elif db_connection.vendor != "postgresql":
            # The product's locking and idempotent intake are PostgreSQL's
            # (advisory locks, ON CONFLICT, SKIP LOCKED); SQLite is only the
            # zero-setup way to see the dashboard.
            self.stdout.write("SQLite mode: login and an empty dashboard; the connected demo world "
                              "(HubSpot, Square, FIRS) needs PostgreSQL + Redis (see README)")
        else:
            threading.Thread(target=self._world, args=(base_url, running), daemon=True).start()
        self.stdout.write(f"\nOpen {base_url}/  —  {DEMO_EMAIL} / {DEMO_PASSWORD}  (Ctrl-C to stop)\n")
        web = subprocess.Popen([sys.executable, str(settings.BASE_DIR / "manage.py"), "runserver", addr,
                                "--noreload"], env=env)
        processes.append(web)
        try:
            web.wait()
        except KeyboardInterrupt:
            pass  # Ctrl-C reached every child too; stop them below
        finally:
            for sandbox in running.values():
                sandbox.stop()
            for proc in processes:
                proc.terminate()
            for proc in processes:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()

    def _world(self, base_url, running):
        """Once the server answers: register with FIRS, connect vendors, seed data."""
        for _ in range(100):
            try:
                if httpx.get(base_url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        org = Organization.objects.get(slug="demo-foods")
        steps = [("FIRS", lambda: demo.firs_register(organization=org, firs_app=running["firs"].app))]
        if "hubspot" in running:
            steps.append(("HubSpot", lambda: demo.hubspot_world(
                base_url=base_url, email=DEMO_EMAIL, password=DEMO_PASSWORD, hubspot_app=running["hubspot"].app)))
        if "square" in running and hasattr(demo, "square_world"):
            steps.append(("Square", lambda: demo.square_world(
                base_url=base_url, email=DEMO_EMAIL, password=DEMO_PASSWORD, square_app=running["square"].app)))
        for name, step in steps:
            try:
                step()
                self.stdout.write(f"demo world: {name} ready")
            except Exception as exc:  # noqa: BLE001 — the demo goes on; say what failed
                self.stderr.write(f"demo world: {name} failed: {exc}")
