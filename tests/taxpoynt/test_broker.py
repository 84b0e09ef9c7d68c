"""The broker transport (taxpoynt.broker) on the real Redis: messages still
arrive where kombu puts them, published through one client per channel."""
from kombu import Exchange, Producer, Queue

from taxpoynt.broker import Channel
from taxpoynt.celery import app


def test_celery_publishes_through_the_taxpoynt_transport():
    with app.connection_for_write() as conn:
        assert isinstance(conn.default_channel, Channel)


def test_one_client_per_channel_and_every_message_delivered():
    queue = Queue("taxpoynt-test-broker", Exchange("taxpoynt-test-broker"), "taxpoynt-test-broker")
    with app.connection_for_write() as conn:
        channel = conn.channel()
        try:
            bound = queue(channel)
            bound.declare()
            bound.purge()
            clients = set()
            producer = Producer(channel, exchange=queue.exchange, routing_key=queue.routing_key)
            for n in range(3):
                producer.publish({"n": n}, serializer="json")
                clients.add(id(channel._publisher))
            assert len(clients) == 1
            received = [bound.get(no_ack=True).payload["n"] for _ in range(3)]
            assert sorted(received) == [0, 1, 2]
            assert bound.get(no_ack=True) is None
        finally:
            bound.delete()
            channel.close()


def test_a_new_pool_gets_a_new_client():
    """After a fork kombu drops its pools; the kept client must not outlive its pool."""
    with app.connection_for_write() as conn:
        channel = conn.channel()
        try:
            with channel.conn_or_acquire() as first:
                pass
            channel._disconnect_pools()
            with channel.conn_or_acquire() as second:
                assert second is not first
                assert second.connection_pool is channel.pool
                assert second.ping()
        finally:
            channel.close()
