"""A process's long-lived objects kept out of the garbage collector's full passes.

What a web or worker process holds once it has started and served its first
request or task (Django, the URL conf, the compiled schematron and XSDs, the
pooled HTTP clients) lives as long as the process, yet every full
(generation 2) collection of the cyclic garbage collector walks all of it:
80 ms pauses in a POS worker, one every few seconds at 40 sales/s, each
holding up the sales of the run it fell in (docs/performance.md).
`gc.freeze()` moves every object alive now into a permanent generation the
collector no longer walks; reference counting frees them as before, only a
cycle among them is never collected, so the process freezes once, after a
full collection.

A process whose live data grows for its whole life (the sandboxes keep every
order, payment and FIRS invoice in memory) has no such moment: each full
pass walks everything it has kept so far, so the pauses grow with the run
(265 and 345 ms in the sandboxes' process one minute into a 100 sales/s
bench, stalling every Square and FIRS call meanwhile). It freezes after
every full collection instead, so the next one walks only what came since.
"""
import gc

_frozen = False


def freeze_once() -> None:
    """Collect, then freeze what is left (the first call in a process only)."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()


def _freeze_survivors(phase: str, info: dict) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()  # the young generations are empty after a full pass: only its survivors move


def freeze_after_full_collections() -> None:
    """From now on, after each full collection freeze what survived it
    (idempotent)."""
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)
