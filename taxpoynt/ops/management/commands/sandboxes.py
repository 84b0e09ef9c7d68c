import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from taxpoynt import sandboxing
from taxpoynt.heap import freeze_after_full_collections


class Command(BaseCommand):
    help = "Run the local vendor and FIRS sandboxes on the ports in settings, printing each base URL."

    def add_arguments(self, parser):
        parser.add_argument("--only", nargs="+", metavar="NAME", help="Run only these sandboxes.")

    def handle(self, *args, only=None, **options):
        names = sorted(sandboxing.available())
        if only:
            unknown = sorted(set(only) - set(names))
            if unknown:
                raise CommandError(f"unknown sandbox(es): {', '.join(unknown)}; available: {', '.join(names)}")
            names = [n for n in names if n in only]
        if not names:
            raise CommandError("no sandboxes are available yet")
        freeze_after_full_collections()  # their state grows all their life (taxpoynt/heap.py)
        running = [sandboxing.start(name) for name in names]
        for sandbox in running:
            self.stdout.write(f"{sandbox.name:<12} {sandbox.url}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            for sandbox in running:
                sandbox.stop()
