"""Several held submissions run together (services.submissions_process_claimed,
the real-time POS path's backlog batches): the same documents, requests,
moves and attempts as one at a time, in fewer statements; whatever does not
simply succeed is recorded on its own and the rest go on. Against the FIRS
sandbox over a real socket, on PostgreSQL."""
import time
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from invoicing import services
from invoicing.models import Invoice, InvoiceSequence, Submission
from invoicing.ubl.builder import build_ubl
from tests.invoicing.test_services import firs, firs_org, make_canonical, steps  # noqa: F401

S = Submission.State
HAPPY = [("validate", "draft", "validated", "ok"), ("sign", "validated", "signed", "ok"),
         ("transmit", "signed", "transmitted", "ok"), ("confirm", "transmitted", "confirmed", "ok")]


def leased_batch(org, make, n):
    """n new invoices whose submissions are held by one token, as a backlog
    batch creates them."""
    token = uuid.uuid4()
    invoices = services.invoices_create_from_canonicals(
        organization=org, canonicals=[make() for _ in range(n)], queue="pos_realtime", lease_token=token)
    return token, invoices, [inv.leased_submission for inv in invoices]


def reloaded(subs):
    return [Submission.objects.select_related("invoice").get(pk=s.pk) for s in subs]


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_confirmed_in_one_statement_a_step_with_the_documents_of_one_at_a_time(
        firs, firs_org, make_canonical):
    token, invoices, held = leased_batch(firs_org, make_canonical, 5)
    with CaptureQueriesContext(connection) as queries:
        services.submissions_process_claimed(token=token, batch=held)
    transitions = [q for q in queries.captured_queries if q["sql"].startswith("WITH moved AS")]
    assert len(transitions) == 4  # validate, sign, transmit, confirm: five moves each
    allocations = [q for q in queries.captured_queries if "invoicing_invoicesequence" in q["sql"]]
    assert len(allocations) == 1
    subs = reloaded(held)
    assert [s.state for s in subs] == [S.CONFIRMED] * 5
    assert all(s.lease_token is None and s.locked_until is None for s in subs)
    # Numbered in the batch's order, gap-free.
    assert [s.invoice.number for s in subs] == [f"INV00000{i}" for i in range(1, 6)]
    assert InvoiceSequence.objects.get(organization=firs_org, kind="invoice").last_number == 5
    for sub in subs:
        assert steps(sub) == HAPPY
        assert sub.invoice.firs_state == S.CONFIRMED and sub.invoice.signed_at
        body = bytes(sub.signed_payload)
        assert firs.app.sandbox.invoice(sub.irn).raw == body == sub.invoice.firs_json.encode()
        assert firs.app.sandbox.verify_stamp(sub.invoice.stamp)["irn"] == sub.irn == sub.invoice.irn
        assert sub.attempts.get(step="sign").request_body == body.decode()
    # Byte for byte what freezing one alone writes.
    token, [alone], [sub] = leased_batch(firs_org, make_canonical, 1)
    services.submissions_process_claimed(token=token, batch=[sub])
    alone.refresh_from_db()
    other = Invoice.objects.get(pk=invoices[0].pk)
    assert alone.ubl_xml.replace(alone.irn, "IRN").replace(alone.number, "N") == \
        other.ubl_xml.replace(other.irn, "IRN").replace(other.number, "N")
    assert firs.app.sandbox.requests["sign"] == 6


@pytest.mark.django_db(transaction=True)
def test_a_failed_step_is_recorded_on_its_own_and_the_rest_go_on(firs, firs_org, make_canonical):
    firs.app.sandbox.set_fault("sign", "503", times=1)  # the batch's first sign
    token, invoices, held = leased_batch(firs_org, make_canonical, 3)
    services.submissions_process_claimed(token=token, batch=held)
    first, *rest = reloaded(held)
    assert first.state == S.VALIDATED and first.blocking_level == "warning" and first.attempt_count == 1
    assert first.next_attempt_at and first.lease_token is None  # released: the sweep retries it
    assert steps(first) == HAPPY[:1] + [("sign", "validated", "validated", "retry")]
    assert [s.state for s in rest] == [S.CONFIRMED] * 2 and all(steps(s) == HAPPY for s in rest)
    # The retry is the same bytes, and only then is it confirmed.
    Submission.objects.filter(pk=first.pk).update(next_attempt_at=None)
    services.submission_process(submission_id=first.pk)
    first.refresh_from_db()
    assert first.state == S.CONFIRMED and firs.app.sandbox.invoice(first.irn).raw == bytes(first.signed_payload)


@pytest.mark.django_db(transaction=True)
def test_a_rejection_by_firs_stops_that_one_only(firs, firs_org, make_canonical, monkeypatch):
    token, invoices, held = leased_batch(firs_org, make_canonical, 3)
    # FIRS does not know the IRN of the second one's transmit: a 404 rejection.
    held[1].irn_override = True
    real_transmit = services.FIRS_STEPS[S.SIGNED].request

    def transmit(client, sub):
        if getattr(sub, "irn_override", False):
            return client.transmit("INV999999-" + sub.irn.split("-", 1)[1])
        return real_transmit(client, sub)

    monkeypatch.setitem(services.FIRS_STEPS, S.SIGNED, services.FirsStep("transmit", S.TRANSMITTED, transmit))
    services.submissions_process_claimed(token=token, batch=held)
    subs = reloaded(held)
    assert [s.state for s in subs] == [S.CONFIRMED, S.REJECTED, S.CONFIRMED]
    assert subs[1].error.startswith("Rejected by FIRS") and subs[1].lease_token is None
    assert steps(subs[1])[-1] == ("transmit", "signed", "rejected", "rejected")


@pytest.mark.django_db(transaction=True)
def test_a_draft_that_breaks_a_rule_at_freezing_is_rejected_and_takes_no_number(firs, firs_org, make_canonical):
    token, invoices, held = leased_batch(firs_org, make_canonical, 3)
    held[1].invoice.canonical = {**held[1].invoice.canonical, "currency": "XXX"}
    services.submissions_process_claimed(token=token, batch=held)
    subs = reloaded(held)
    assert [s.state for s in subs] == [S.CONFIRMED, S.REJECTED, S.CONFIRMED]
    assert subs[1].error.startswith("Rejected locally") and subs[1].invoice.number == ""
    assert steps(subs[1]) == [("freeze", "draft", "rejected", "rejected")]
    assert [subs[0].invoice.number, subs[2].invoice.number] == ["INV000001", "INV000002"]
    assert InvoiceSequence.objects.get(organization=firs_org, kind="invoice").last_number == 2


@pytest.mark.django_db(transaction=True)
def test_a_batchs_documents_are_built_then_checked_by_the_schematron_one_after_another(
        firs, firs_org, make_canonical, monkeypatch):
    # Saxon's code stays in the CPU's caches through a run of schematrons
    # (documents.render_many): none runs between two documents' builds.
    from invoicing import documents
    from invoicing.ubl import validator

    order = []
    monkeypatch.setattr(documents, "build_ubl", lambda *a, **k: order.append("build") or build_ubl(*a, **k))
    monkeypatch.setattr(documents, "schematron_violations",
                        lambda xml: order.append("schematron") or validator.schematron_violations(xml))
    token, _, held = leased_batch(firs_org, make_canonical, 3)
    services.submissions_process_claimed(token=token, batch=held)
    assert [s.state for s in reloaded(held)] == [S.CONFIRMED] * 3
    assert order == ["build"] * 3 + ["schematron"] * 3


@pytest.mark.django_db(transaction=True)
def test_an_invoice_frozen_by_another_run_meanwhile_leaves_the_batch_and_the_rest_are_frozen_alone(
        firs, firs_org, make_canonical):
    token, invoices, held = leased_batch(firs_org, make_canonical, 3)
    # Another run (its lease taken over) froze the second one first.
    Invoice.objects.filter(pk=invoices[1].pk).update(number="INV000077", frozen_at=timezone.now())
    services.submissions_process_claimed(token=token, batch=held)
    subs = reloaded(held)
    assert [subs[0].state, subs[2].state] == [S.CONFIRMED, S.CONFIRMED]
    assert [subs[0].invoice.number, subs[2].invoice.number] == ["INV000001", "INV000002"]  # no gap
    assert subs[1].state == S.DRAFT and subs[1].invoice.number == "INV000077" and not steps(subs[1])
    assert subs[1].lease_token is None  # given back, not run


@pytest.mark.django_db(transaction=True)
def test_only_the_submissions_held_by_the_token_are_run(firs, firs_org, make_canonical):
    token, invoices, held = leased_batch(firs_org, make_canonical, 3)
    stranger = uuid.uuid4()
    Submission.objects.filter(pk=held[2].pk).update(lease_token=stranger)
    held[2].lease_token = stranger
    services.submissions_process_claimed(token=token, batch=held)
    subs = reloaded(held)
    assert [s.state for s in subs] == [S.CONFIRMED, S.CONFIRMED, S.DRAFT]
    assert subs[2].lease_token == stranger and not steps(subs[2])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("firs_is_slow", [True, False])
def test_a_steps_requests_go_at_once_while_firs_is_slow(firs, firs_org, make_canonical, monkeypatch, firs_is_slow):
    import threading

    monkeypatch.setattr(services, "_firs_slow", False)
    monkeypatch.setattr(services, "LOCKSTEP_SLOW_SECONDS", -1 if firs_is_slow else 60)
    senders = []
    for state, step in list(services.FIRS_STEPS.items()):
        def request(client, sub, real=step.request):
            senders.append(threading.current_thread().name)
            return real(client, sub)
        monkeypatch.setitem(services.FIRS_STEPS, state, services.FirsStep(step.name, step.to_state, request,
                                                                           unknown_to=step.unknown_to))
    token, invoices, held = leased_batch(firs_org, make_canonical, 4)
    services.submissions_process_claimed(token=token, batch=held)
    subs = reloaded(held)
    assert [s.state for s in subs] == [S.CONFIRMED] * 4 and all(steps(s) == HAPPY for s in subs)
    assert len(senders) == 16
    here = threading.current_thread().name
    assert senders[0] == here  # the first step's first request goes alone: is FIRS slow?
    if firs_is_slow:
        # Its others at once, and every request of the next steps too.
        assert all(name.startswith("firs-lockstep") for name in senders[1:])
        assert services._firs_slow
    else:
        assert senders == [here] * 16 and not services._firs_slow


def test_a_step_that_finds_firs_fast_again_goes_back_to_one_after_the_other(monkeypatch):
    import threading

    monkeypatch.setattr(services, "_firs_slow", True)
    monkeypatch.setattr(services, "LOCKSTEP_SLOW_SECONDS", 60)
    names = services._send_all([lambda: threading.current_thread().name] * 3)
    assert all(name.startswith("firs-lockstep") for name in names) and not services._firs_slow
    here = threading.current_thread().name
    assert services._send_all([lambda: threading.current_thread().name] * 3) == [here] * 3


def test_a_step_whose_answers_queue_at_a_server_one_at_a_time_is_judged_by_its_fastest_answer(monkeypatch):
    """Ten requests at a server that serves one at a time (the sandbox, a
    busy machine): the step takes ten answers' time, longer than the
    threshold, but each answer is fast, so the next step goes one after the
    other. Answers each slower than the threshold keep the threads."""
    import threading

    monkeypatch.setattr(services, "_firs_slow", True)
    monkeypatch.setattr(services, "LOCKSTEP_SLOW_SECONDS", 0.2)
    server = threading.Lock()

    def served_one_at_a_time():
        with server:
            time.sleep(0.03)
        return threading.current_thread().name

    started = time.monotonic()
    names = services._send_all([served_one_at_a_time] * 10)
    assert time.monotonic() - started > 0.2  # the step as a whole was slower than the threshold
    assert all(name.startswith("firs-lockstep") for name in names) and not services._firs_slow

    monkeypatch.setattr(services, "_firs_slow", True)
    services._send_all([lambda: time.sleep(0.25)] * 4)  # each answer slow: FIRS is slow
    assert services._firs_slow


def test_the_threads_a_step_sends_from_are_kept_and_each_running_thread_has_its_own(monkeypatch):
    import threading

    monkeypatch.setattr(services, "_firs_slow", True)
    monkeypatch.setattr(services, "LOCKSTEP_SLOW_SECONDS", -1)

    def step():
        barrier = threading.Barrier(3)  # three requests in flight at once, each on a thread of its own
        return services._send_all([lambda: (barrier.wait(timeout=5), threading.get_ident())[1]] * 3)

    def lockstep_threads():
        return {t.ident for t in threading.enumerate() if t.name.startswith("firs-lockstep")}

    first = step()
    kept = lockstep_threads()
    second = step()
    assert len(set(first)) == 3 and len(set(second)) == 3 and threading.get_ident() not in first
    assert set(first) | set(second) <= kept == lockstep_threads()  # the same threads again, none new
    other = []
    runner = threading.Thread(target=lambda: other.extend(step()))
    runner.start()
    runner.join()
    assert len(set(other)) == 3 and not set(other) & kept  # another task's thread: a pool of its own


def test_a_forked_child_sends_a_step_from_threads_of_its_own(monkeypatch):
    import os
    import signal
    import threading

    monkeypatch.setattr(services, "_firs_slow", True)
    monkeypatch.setattr(services, "LOCKSTEP_SLOW_SECONDS", -1)

    def step():
        barrier = threading.Barrier(3)
        return services._send_all([lambda: (barrier.wait(timeout=5), threading.get_ident())[1]] * 3)

    step()  # the parent's pool exists, its threads alive in the parent only
    parents = {t.ident for t in threading.enumerate() if t.name.startswith("firs-lockstep")}
    pid = os.fork()
    if pid == 0:  # the child: the step must run (on the parent's pool it would wait for ever)
        signal.alarm(10)
        try:
            ok = len(set(step())) == 3
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert set(step()) <= parents  # the parent keeps its own threads


@pytest.mark.django_db(transaction=True)
def test_a_failure_outside_firs_gives_the_whole_batch_back_to_the_sweep(firs, firs_org, make_canonical, monkeypatch):
    token, invoices, held = leased_batch(firs_org, make_canonical, 3)

    def broken(moves, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services.submissions, "transitions", broken)
    with pytest.raises(RuntimeError):
        services.submissions_process_claimed(token=token, batch=held)
    subs = reloaded(held)
    assert all(s.lease_token is None and s.state == S.DRAFT for s in subs)  # frozen, released, nothing lost
    assert all(s.invoice.number and s.signed_payload for s in subs)
    monkeypatch.undo()
    assert {str(pk) for pk, token in services.submission_claim_due()} == {str(s.pk) for s in subs}


@pytest.mark.django_db(transaction=True)
def test_an_admin_move_during_a_step_stops_that_one_and_is_never_overwritten(firs, firs_org, make_canonical,
                                                                            monkeypatch):
    token, invoices, held = leased_batch(firs_org, make_canonical, 3)
    real_validate = services.FIRS_STEPS[S.DRAFT].request

    def validate(client, sub):
        exchange = real_validate(client, sub)
        if sub.pk == held[1].pk:  # support cancels it while its validate is in flight
            Submission.objects.filter(pk=sub.pk).update(state=S.CANCELLED)
        return exchange

    monkeypatch.setitem(services.FIRS_STEPS, S.DRAFT, services.FirsStep("validate", S.VALIDATED, validate))
    services.submissions_process_claimed(token=token, batch=held)
    subs = reloaded(held)
    assert [s.state for s in subs] == [S.CONFIRMED, S.CANCELLED, S.CONFIRMED]
    assert not steps(subs[1]) and subs[1].lease_token is None  # nothing recorded over it, let go
    assert firs.app.sandbox.requests["validate"] == 3 and firs.app.sandbox.requests["sign"] == 2
