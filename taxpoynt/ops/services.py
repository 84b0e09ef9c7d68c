"""Operational writes: worker heartbeats, readiness probes, key rotation."""
import logging

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from fernet_fields import EncryptedField

from .models import WorkerHeartbeat

logger = logging.getLogger(__name__)


def heartbeat_record(*, queue: str, hostname: str) -> WorkerHeartbeat:
    beat, created = WorkerHeartbeat.objects.get_or_create(
        queue=queue, defaults={"hostname": hostname, "last_seen": timezone.now(), "beats": 1}
    )
    if not created:
        WorkerHeartbeat.objects.filter(pk=beat.pk).update(
            hostname=hostname, last_seen=timezone.now(), beats=F("beats") + 1
        )
        beat.refresh_from_db()
    return beat


def readiness_check() -> dict:
    """Probe each dependency; returns {part: "ok" | error text}."""
    results = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        results["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 — any failure means "not ready"
        results["database"] = f"error: {exc.__class__.__name__}: {exc}"
    if settings.REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
            results["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            results["redis"] = f"error: {exc.__class__.__name__}: {exc}"
    else:
        results["redis"] = "ok (not configured: in-process mode)"
    if settings.CELERY_TASK_ALWAYS_EAGER:
        results["broker"] = "ok (tasks run in-process)"
    else:
        from taxpoynt.celery import app

        try:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=1)
            results["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001
            results["broker"] = f"error: {exc.__class__.__name__}: {exc}"
    return results


def encrypted_fields():
    """Every (model, field) pair holding a Fernet-encrypted value."""
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedField):
                yield model, field


def reset_fernet_key_cache():
    """The fields cache their keys; call after FERNET_KEYS changes."""
    for _model, field in encrypted_fields():
        for attr in ("keys", "fernet_keys", "fernet"):
            field.__dict__.pop(attr, None)


def encryption_keys_rotate(*, batch_size: int = 500, progress=None) -> dict:
    """Re-encrypt every encrypted value with the newest key (FERNET_KEYS[0]).

    Values are read (any key decrypts) and written back (the first key
    encrypts), one model at a time, in batches, each batch in a transaction.
    Returns {model label: rows rewritten}."""
    reset_fernet_key_cache()
    counts = {}
    by_model = {}
    for model, field in encrypted_fields():
        by_model.setdefault(model, []).append(field.name)
    for model, field_names in by_model.items():
        done = 0
        pks = list(model._default_manager.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(pks), batch_size):
            chunk = pks[start:start + batch_size]
            with transaction.atomic():
                # save(update_fields) per row: bulk_update would encrypt its CASE
                # expression instead of the values.
                for row in model._default_manager.select_for_update().filter(pk__in=chunk):
                    row.save(update_fields=field_names)
            done += len(chunk)
            if progress:
                progress(model._meta.label, done, len(pks))
        counts[model._meta.label] = done
    logger.info("encryption keys rotated", extra={"event_id": "rotate_keys"})
    return counts
