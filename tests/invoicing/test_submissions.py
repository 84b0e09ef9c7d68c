"""The submission state machine: every allowed and every refused move."""
import random
from datetime import timedelta

import pytest
from django.utils import timezone

from invoicing import submissions
from invoicing.firs.client import Exchange
from invoicing.models import Submission, SubmissionAttempt
from invoicing.submissions import ALLOWED, IllegalTransition, transition
from tests import factories

S = Submission.State
ALL = [s for s, _ in S.choices]
PAIRS = [(a, b) for a in ALL for b in ALL]


def test_table_covers_every_state_and_only_known_states():
    assert set(ALLOWED) == set(ALL)
    assert all(set(targets) <= set(ALL) for targets in ALLOWED.values())
    # The happy path is in the table; terminal states have no way out.
    for a, b in [(S.DRAFT, S.VALIDATED), (S.VALIDATED, S.SIGNED), (S.SIGNED, S.TRANSMITTED),
                 (S.TRANSMITTED, S.CONFIRMED), (S.VALIDATED, S.UNKNOWN), (S.UNKNOWN, S.SIGNED)]:
        assert b in ALLOWED[a]
    assert not ALLOWED[S.CONFIRMED] and not ALLOWED[S.CANCELLED]
    assert S.SIGNED not in ALLOWED[S.DRAFT]  # no skipping FIRS validation


@pytest.fixture
def submission(make_org):
    return factories.invoice(make_org()).submissions.get()


@pytest.mark.django_db
@pytest.mark.parametrize("from_state, to_state", PAIRS)
def test_every_transition_is_allowed_or_refused_per_table(submission, from_state, to_state):
    Submission.objects.filter(pk=submission.pk).update(state=from_state)
    submission.refresh_from_db()
    before = submission.attempts.count()
    if to_state in ALLOWED[from_state]:
        attempt = transition(submission, to_state, step="test", error="x" if to_state == from_state else "",
                             blocking_level="warning" if to_state == from_state else "")
        submission.refresh_from_db()
        assert submission.state == to_state
        assert (attempt.from_state, attempt.to_state) == (from_state, to_state)
        assert submission.attempts.count() == before + 1
    else:
        with pytest.raises(IllegalTransition):
            transition(submission, to_state, step="test")
        submission.refresh_from_db()
        assert submission.state == from_state
        assert submission.attempts.count() == before


@pytest.mark.django_db
def test_attempt_records_the_exchange(submission):
    exchange = Exchange(method="POST", url="http://firs/api/v1/invoice/validate", request_body='{"irn":"X"}',
                        status_code=200, response_body='{"code":200,"data":{"ok":true}}', latency_ms=42)
    attempt = transition(submission, S.VALIDATED, step="validate", exchange=exchange)
    attempt.refresh_from_db()
    assert (attempt.request_method, attempt.response_status, attempt.latency_ms, attempt.outcome) == \
        ("POST", 200, 42, "ok")
    assert attempt.request_body == '{"irn":"X"}'
    submission.refresh_from_db()
    assert submission.last_exchange_at is not None


@pytest.mark.django_db
def test_retryable_failure_backs_off_then_dead_after_max(submission, settings):
    settings.FIRS_SUBMISSION_MAX_ATTEMPTS = 3
    for n in (1, 2):
        attempt = transition(submission, S.DRAFT, step="validate", error="503", blocking_level="warning")
        assert attempt.outcome == "retry"
        assert submission.attempt_count == n
        assert submission.next_attempt_at > timezone.now() - timedelta(seconds=1)
        assert submission.state == S.DRAFT
    attempt = transition(submission, S.DRAFT, step="validate", error="503", blocking_level="warning")
    assert submission.state == S.DEAD and attempt.to_state == S.DEAD
    assert submission.blocking_level == "error" and "gave up after 3 attempts" in submission.error
    assert submission.resume_state == S.DRAFT and submission.next_attempt_at is None


@pytest.mark.django_db
def test_progress_resets_attempts_and_is_due_at_once(submission):
    transition(submission, S.DRAFT, step="validate", error="503", blocking_level="warning")
    transition(submission, S.VALIDATED, step="validate")
    assert submission.attempt_count == 0 and submission.next_attempt_at is None
    assert submission.error == "" and submission.blocking_level == ""


def test_backoff_is_full_jitter_capped(settings):
    settings.FIRS_SUBMISSION_BACKOFF_BASE_SECONDS = 2
    settings.FIRS_SUBMISSION_BACKOFF_CAP_SECONDS = 60
    rng = random.Random(1)
    delays = [submissions.backoff_delay(n, rng=rng) for n in range(12) for _ in range(50)]
    assert all(0 <= d <= 60 for d in delays)
    small = [submissions.backoff_delay(1, rng=rng) for _ in range(200)]
    assert max(small) <= 4 and min(small) < 1  # uniform over [0, base·2]
    assert max(submissions.backoff_delay(20, rng=rng) for _ in range(200)) > 30  # reaches toward the cap


@pytest.mark.django_db
def test_rejection_keeps_rule_list(submission):
    errors = [{"rule": "BR-01", "message": "missing", "path": "lines[0]"}]
    transition(submission, S.REJECTED, step="validate_local", error="Rejected locally", errors=errors,
               blocking_level="error", error_source="local")
    submission.refresh_from_db()
    assert submission.errors == errors and submission.error_source == "local"
    assert SubmissionAttempt.objects.filter(submission=submission, outcome="rejected").exists()


@pytest.mark.django_db
def test_a_stale_transition_writes_nothing(submission):
    """transition() is a compare-and-set on the state the caller read."""
    before = submission.attempts.count()
    Submission.objects.filter(pk=submission.pk).update(state=S.CANCELLED)  # someone else moved it
    with pytest.raises(submissions.SubmissionChanged):
        transition(submission, S.VALIDATED, step="validate")
    submission.refresh_from_db()
    assert submission.state == S.CANCELLED and submission.attempts.count() == before
    submission.invoice.refresh_from_db()
    assert submission.invoice.firs_state != S.VALIDATED


@pytest.mark.django_db
def test_a_transition_under_a_lost_lease_writes_nothing_and_a_held_one_renews_it(submission):
    import uuid

    mine, theirs = uuid.uuid4(), uuid.uuid4()
    before = submission.attempts.count()
    Submission.objects.filter(pk=submission.pk).update(lease_token=theirs)
    with pytest.raises(submissions.SubmissionChanged):
        transition(submission, S.VALIDATED, step="validate", lease_token=mine)
    assert submission.attempts.count() == before
    Submission.objects.filter(pk=submission.pk).update(lease_token=mine, locked_until=timezone.now())
    transition(submission, S.VALIDATED, step="validate", lease_token=mine)
    submission.refresh_from_db()
    assert submission.state == S.VALIDATED
    assert submission.locked_until > timezone.now() + timedelta(seconds=submissions.LEASE_SECONDS - 60)


@pytest.mark.django_db
def test_signing_writes_the_invoice_once(submission):
    # The signing time and the copied state go in one row version of the
    # invoice (each of its indexes written once, not twice).
    from django.db import connection

    Submission.objects.filter(pk=submission.pk).update(state=S.VALIDATED)
    submission.refresh_from_db()

    def invoice_updates():
        with connection.cursor() as cursor:
            cursor.execute("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'invoicing_invoice'")
            return cursor.fetchone()[0]

    before = invoice_updates()
    transition(submission, S.SIGNED, step="sign")
    assert invoice_updates() - before == 1
    submission.invoice.refresh_from_db()
    assert submission.invoice.firs_state == S.SIGNED and submission.invoice.signed_at is not None
