"""Racing workers in tests: `race(n, target)` runs `target` in n threads let
go at once (a barrier), each closing its own database connections, and
returns their results; any worker's exception fails the test."""
import threading

from django.db import connections


def race(n: int, target) -> list:
    barrier, results, errors = threading.Barrier(n), [], []

    def go():
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=go) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [], errors
    assert len(results) == n, "a worker did not finish within 30 s"
    return results
