"""`make demo`'s foreground process: sandboxes, a worker when a broker is set,
and the web server, until Ctrl-C."""
import os
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from taxpoynt import sandboxing


class Command(BaseCommand):
    help = "Run the demo: sandboxes + (worker) + web server on 127.0.0.1:8000."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr, **options):
        running = []
        for name in sorted(sandboxing.available()):
            try:
                running.append(sandboxing.start(name))
                self.stdout.write(f"sandbox {name:<12} {running[-1].url}")
            except OSError as exc:
                self.stderr.write(f"sandbox {name} not started: {exc}")
        worker = None
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "taxpoynt", "worker", "-Q", ",".join(settings.CELERY_QUEUES),
                 "--concurrency", "2", "--loglevel", "WARNING"], env=os.environ.copy())
            self.stdout.write("worker started (queues: %s)" % ", ".join(settings.CELERY_QUEUES))
        else:
            self.stdout.write("tasks run in-process (no REDIS_URL)")
        self.stdout.write(f"\nOpen http://{addr}/ (Ctrl-C to stop)\n")
        try:
            call_command("runserver", addr, use_reloader=False)
        finally:
            for sandbox in running:
                sandbox.stop()
            if worker:
                worker.terminate()
                worker.wait(timeout=10)
