"""taxpoynt/heap.py: a process's long-lived objects leave the garbage
collector's full passes, once, after its warm-up (a worker's first task, a
web worker's start)."""
import gc
from types import SimpleNamespace

import pytest

from taxpoynt import heap
from taxpoynt.celery import freeze_the_warm_heap


@pytest.fixture
def unfrozen(monkeypatch):
    gc.unfreeze()
    monkeypatch.setattr(heap, "_frozen", False)
    yield
    gc.unfreeze()  # the test process keeps collecting everything


def task(*, eager: bool):
    return SimpleNamespace(request=SimpleNamespace(is_eager=eager))


def test_freezing_moves_the_live_heap_to_the_permanent_generation_once(unfrozen):
    heap.freeze_once()
    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # Django, the app and the test run: everything alive now
    later = [[n] for n in range(1000)]  # noqa: F841 - a run's objects, alive at the second call
    heap.freeze_once()  # once a process: what comes later stays in the collected generations
    # Not ==: a frozen object freed meanwhile (another test's thread ending) leaves the count.
    assert gc.get_freeze_count() <= frozen


def test_a_worker_freezes_after_its_first_task_and_an_eager_task_never(unfrozen):
    freeze_the_warm_heap(sender=task(eager=True))  # the demo's in-process task: its caller's process
    assert gc.get_freeze_count() == 0
    freeze_the_warm_heap(sender=task(eager=False))
    assert gc.get_freeze_count() > 10_000


@pytest.fixture
def growing(unfrozen):
    yield
    if heap._freeze_survivors in gc.callbacks:
        gc.callbacks.remove(heap._freeze_survivors)


def test_a_growing_process_freezes_after_each_full_pass_so_the_next_walks_only_what_came_since(growing):
    """The sandboxes' process: what a full collection finds alive leaves
    the oldest generation, so the next full pass does not walk it again."""
    heap.freeze_after_full_collections()
    heap.freeze_after_full_collections()  # idempotent: one callback
    assert gc.callbacks.count(heap._freeze_survivors) == 1
    kept = [[n] for n in range(50_000)]  # a run's orders and invoices, kept for the process's life
    gc.collect(1)  # a young pass freezes nothing
    assert gc.get_freeze_count() == 0
    gc.collect()
    frozen = gc.get_freeze_count()
    assert frozen > len(kept) and len(gc.get_objects(generation=2)) < 1_000
    more = [[n] for n in range(20_000)]
    gc.collect()
    assert gc.get_freeze_count() >= frozen + len(more) and len(gc.get_objects(generation=2)) < 1_000
