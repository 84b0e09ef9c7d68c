from django.db import models


class WorkerHeartbeat(models.Model):
    """Last time a worker consuming `queue` ran the heartbeat task: proves the
    queue is being drained (shown in admin; a stale one means no worker)."""

    queue = models.CharField(max_length=40, unique=True)
    hostname = models.CharField(max_length=200, blank=True)
    last_seen = models.DateTimeField()
    beats = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.queue} @ {self.hostname}"
