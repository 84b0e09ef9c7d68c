"""The Celery broker transport: kombu's Redis transport, with one change.

kombu's Redis channel builds a new `redis.Redis` for every message it
publishes (`Channel.conn_or_acquire()` without a client), and redis-py's
constructor copies its whole response-callback table each time: measured, 8 %
of gunicorn's CPU per acknowledged webhook. Here a channel keeps one client
on its connection pool and publishes through it. A redis-py client is safe to
share between threads (each command checks a connection out of the pool), and
the client is rebuilt whenever kombu replaces the pool (after a fork).

Selected by `CELERY_BROKER_TRANSPORT` when the broker is Redis
(taxpoynt/settings.py); everything else is kombu's.
"""
from contextlib import contextmanager

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _publisher = None

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client is None:
            pool = self.pool
            if self._publisher is None or self._publisher.connection_pool is not pool:
                self._publisher = self._create_client()
            client = self._publisher
        yield client


class Transport(kombu_redis.Transport):
    Channel = Channel
