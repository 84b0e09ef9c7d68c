import pytest
from django.test import override_settings


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_all_parts_up_on_real_services(client):
    resp = client.get("/readyz")
    body = resp.json()
    assert resp.status_code == 200, body
    assert body["parts"] == {"database": "ok", "redis": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_readyz_names_redis_when_it_is_down(client):
    # A port nothing listens on stands for a Redis that is down.
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        resp = client.get("/readyz")
    assert resp.status_code == 503
    body = resp.json()
    assert body["failing"] == ["redis"]
    assert body["parts"]["redis"].startswith("error: ConnectionError")


@pytest.mark.django_db
def test_readyz_names_broker_when_it_is_down(client, settings):
    from taxpoynt.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        resp = client.get("/readyz")
    finally:
        app.conf.broker_url = original
    assert resp.status_code == 503
    assert resp.json()["failing"] == ["broker"]


@pytest.mark.django_db
def test_metrics_exposes_django_prometheus(client):
    client.get("/healthz")
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert b"django_http_requests_total_by_method_total" in resp.content


@pytest.mark.django_db
def test_beat_sends_a_heartbeat_to_every_queue():
    from django_celery_beat.models import PeriodicTask

    tasks = PeriodicTask.objects.filter(task="taxpoynt.ops.tasks.heartbeat", enabled=True)
    assert sorted(t.queue for t in tasks) == sorted(["pos_realtime", "crm", "batch", "sync"])
