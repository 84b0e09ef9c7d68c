from django.core.management.base import BaseCommand

from taxpoynt.ops.services import encryption_keys_rotate


class Command(BaseCommand):
    help = "Re-encrypt every encrypted secret with the newest key in FERNET_KEYS (the first)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size, **options):
        def progress(label, done, total):
            self.stdout.write(f"{label}: {done}/{total}")

        counts = encryption_keys_rotate(batch_size=batch_size, progress=progress)
        total = sum(counts.values())
        self.stdout.write(self.style.SUCCESS(f"re-encrypted {total} rows in {len(counts)} models"))
