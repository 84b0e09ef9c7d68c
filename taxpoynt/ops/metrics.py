"""Every TaxPoynt Prometheus metric, defined once (SPEC §5). Code that measures
imports the metric from here; `/metrics` (`metrics_exposition`) exports them.

Most are recorded in Celery workers, and the web runs several processes, so a
deployment sets PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess
mode, docs/deployment.md): every process writes its samples to files there and
`/metrics` sums them. Without it, `/metrics` is this process's registry.

Two are computed at scrape time by collectors:
- `celery_queue_depth` / `celery_queue_oldest_age_seconds` per queue, read from
  the Redis broker (the oldest message's `published_at` header, stamped by the
  `before_task_publish` hook below);
- `invoice_generation_success_ratio`: confirmed / (confirmed + rejected + dead)
  over the submissions of the last 24 hours.
"""
import json
import logging
import time

from celery.signals import before_task_publish, worker_process_shutdown
from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

crm_deal_processing_seconds = Histogram(
    "crm_deal_processing_seconds", "Time from a CRM event being taken to its deal being processed.",
    ["vendor"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
pos_transaction_total = Counter(
    "pos_transaction_total", "POS transactions processed, by vendor and outcome.", ["vendor", "outcome"])
api_errors_total = Counter("api_errors_total", "API responses with a 4xx/5xx status.", ["status", "code"])
webhook_events_total = Counter(
    "webhook_events_total", "Inbound webhook deliveries, by vendor and outcome.", ["vendor", "outcome"])
firs_request_latency_seconds = Histogram(
    "firs_request_latency_seconds", "Latency of requests to the FIRS API, by endpoint and outcome.",
    ["endpoint", "outcome"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10, 20, 30, 60))
webhook_events_per_run = Histogram(
    "webhook_events_per_run", "Stored webhook events one task run processed (above 1: a backlog taken at once).",
    ["vendor"], buckets=(1, 2, 3, 5, 10, 20))
webhook_wake_arrivals_total = Counter(
    "webhook_wake_arrivals_total", "New events of a batching vendor by their connection's wake: 'published' started "
    "a wake (one task message), 'counted' rode on one already sent (no message).", ["vendor", "outcome"])
pos_sale_to_confirmed_seconds = Histogram(
    "pos_sale_to_confirmed_seconds", "From a POS webhook's receipt to FIRS confirming its invoice.", ["vendor"],
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10, 30))


def observe_sale_to_confirmed(submission) -> None:
    """`pos_sale_to_confirmed_seconds`, by the submission's move to confirmed
    (invoicing.submissions.transition): from its sale's webhook receipt
    (`Submission.source_received_at`), whether the webhook task confirmed it
    at once or the due-submission sweep did after a FIRS retry."""
    vendor = submission.invoice.source_system
    pos_sale_to_confirmed_seconds.labels(vendor=vendor).observe(
        max(0.0, time.time() - submission.source_received_at.timestamp()))


@before_task_publish.connect
def stamp_published_at(headers=None, **kwargs):
    """Lets the queue-age collector see how long the oldest message has waited."""
    if headers is not None:
        headers.setdefault("published_at", time.time())


@worker_process_shutdown.connect
def mark_worker_process_dead(pid=None, **kwargs):
    """A prefork child's exit, as multiprocess mode asks: its live gauges go."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        multiprocess.mark_process_dead(pid, settings.PROMETHEUS_MULTIPROC_DIR)


class QueueCollector:
    def describe(self):
        # Lets the registry learn the names without a scrape (no Redis at import).
        yield GaugeMetricFamily("celery_queue_depth", "Messages waiting per Celery queue.", labels=["queue"])
        yield GaugeMetricFamily("celery_queue_oldest_age_seconds", "Age of the oldest waiting message.",
                                labels=["queue"])

    def collect(self):
        depth = GaugeMetricFamily("celery_queue_depth", "Messages waiting per Celery queue.", labels=["queue"])
        age = GaugeMetricFamily("celery_queue_oldest_age_seconds", "Age of the oldest waiting message.",
                                labels=["queue"])
        if settings.CELERY_TASK_ALWAYS_EAGER or not settings.CELERY_BROKER_URL.startswith("redis"):
            return
        import redis

        try:
            client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1, socket_connect_timeout=1)
            now = time.time()
            for queue in settings.CELERY_QUEUES:
                # kombu's Redis transport keeps one list per queue and priority step.
                keys = [queue] + [f"{queue}\x06\x16{p}" for p in range(1, 10)]
                total, oldest = 0, None
                for key in keys:
                    n = client.llen(key)
                    if not n:
                        continue
                    total += n
                    raw = client.lindex(key, -1)  # LPUSH/BRPOP: the oldest is at the right end
                    try:
                        published = json.loads(raw)["headers"].get("published_at")
                    except (ValueError, KeyError, TypeError):
                        published = None
                    if published:
                        oldest = published if oldest is None else min(oldest, published)
                depth.add_metric([queue], total)
                age.add_metric([queue], max(0.0, now - oldest) if oldest else 0.0)
        except redis.RedisError as exc:
            logger.warning("queue metrics unavailable: %s", exc)
            return
        yield depth
        yield age


class InvoiceRatioCollector:
    def describe(self):
        # Lets the registry learn the name without a scrape (no database at app start).
        yield GaugeMetricFamily("invoice_generation_success_ratio", "")

    def collect(self):
        from datetime import timedelta

        from django.db import DatabaseError
        from django.db.models import Count, Q
        from django.utils import timezone

        from invoicing.models import Submission

        try:
            counts = Submission.objects.filter(updated_at__gte=timezone.now() - timedelta(hours=24)).aggregate(
                ok=Count("id", filter=Q(state=Submission.State.CONFIRMED)),
                failed=Count("id", filter=Q(state__in=[Submission.State.REJECTED, Submission.State.DEAD])))
        except DatabaseError as exc:
            logger.warning("invoice ratio unavailable: %s", exc)
            return
        finished = counts["ok"] + counts["failed"]
        gauge = GaugeMetricFamily("invoice_generation_success_ratio",
                                  "Confirmed / finished FIRS submissions over the last 24 h (1 when none).")
        gauge.add_metric([], counts["ok"] / finished if finished else 1.0)
        yield gauge


# Computed at scrape time by the scraped process, so never in the multiprocess files.
SCRAPE_TIME_COLLECTORS = (QueueCollector(), InvoiceRatioCollector())
_registered = False


def register_collectors():
    global _registered
    if not _registered:
        for collector in SCRAPE_TIME_COLLECTORS:
            REGISTRY.register(collector)
        _registered = True


def metrics_exposition() -> bytes:
    """The `/metrics` body. With PROMETHEUS_MULTIPROC_DIR: the counters and
    histograms of every process writing there (web and workers), summed, plus
    the scrape-time collectors once. Without: this process's registry."""
    directory = settings.PROMETHEUS_MULTIPROC_DIR
    if not directory:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    for collector in SCRAPE_TIME_COLLECTORS:
        registry.register(collector)
    return generate_latest(registry)
