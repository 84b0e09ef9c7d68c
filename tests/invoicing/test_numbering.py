"""Gap-free numbering under concurrency, on PostgreSQL."""
import random
import threading

import pytest
from django.db import connection, transaction

from invoicing.models import Invoice, InvoiceSequence
from invoicing.numbering import allocate_number, allocate_number_blocks, allocate_numbers


@pytest.mark.django_db
def test_numbers_are_per_org_and_kind_letters_and_digits(make_org):
    a, b = make_org(), make_org()
    with transaction.atomic():
        assert allocate_number(organization=a, kind=Invoice.Kind.INVOICE) == "INV000001"
        assert allocate_number(organization=a, kind=Invoice.Kind.INVOICE) == "INV000002"
        assert allocate_number(organization=a, kind=Invoice.Kind.CREDIT_NOTE) == "CRN000001"
        assert allocate_number(organization=b, kind=Invoice.Kind.INVOICE) == "INV000001"


@pytest.mark.django_db
def test_a_batch_takes_the_next_numbers_in_order_and_a_rollback_gives_them_back(make_org):
    org = make_org()
    with transaction.atomic():
        assert allocate_numbers(organization=org, kind=Invoice.Kind.INVOICE, count=3) == [
            "INV000001", "INV000002", "INV000003"]
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            allocate_numbers(organization=org, kind=Invoice.Kind.INVOICE, count=5)
            raise RuntimeError("freeze failed")
    with transaction.atomic():
        assert allocate_number(organization=org, kind=Invoice.Kind.INVOICE) == "INV000004"
        assert allocate_numbers(organization=org, kind=Invoice.Kind.INVOICE, count=2) == ["INV000005", "INV000006"]
    with pytest.raises(Exception, match="cannot allocate 0"), transaction.atomic():
        allocate_numbers(organization=org, kind=Invoice.Kind.INVOICE, count=0)


@pytest.mark.django_db
def test_several_organizations_numbers_are_one_statement(make_org, django_assert_num_queries):
    a, b = make_org(), make_org()
    with transaction.atomic():
        allocate_number(organization=a, kind=Invoice.Kind.INVOICE)
        with django_assert_num_queries(1):
            blocks = allocate_number_blocks({(b.pk, Invoice.Kind.INVOICE): 2, (a.pk, Invoice.Kind.INVOICE): 1,
                                             (a.pk, Invoice.Kind.CREDIT_NOTE): 1})
    assert blocks == {(b.pk, Invoice.Kind.INVOICE): ["INV000001", "INV000002"],
                      (a.pk, Invoice.Kind.INVOICE): ["INV000002"], (a.pk, Invoice.Kind.CREDIT_NOTE): ["CRN000001"]}
    with pytest.raises(Exception, match="unknown document kind"), transaction.atomic():
        allocate_number_blocks({(a.pk, Invoice.Kind.INVOICE): 1, (b.pk, "receipt"): 1})
    with transaction.atomic():
        assert allocate_number(organization=b, kind=Invoice.Kind.INVOICE) == "INV000003"


@pytest.mark.django_db
def test_rolled_back_allocation_leaves_no_gap(make_org):
    org = make_org()
    with transaction.atomic():
        allocate_number(organization=org, kind=Invoice.Kind.INVOICE)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            assert allocate_number(organization=org, kind=Invoice.Kind.INVOICE) == "INV000002"
            raise RuntimeError("freeze failed")
    with transaction.atomic():
        assert allocate_number(organization=org, kind=Invoice.Kind.INVOICE) == "INV000002"


@pytest.mark.django_db(transaction=True)
def test_parallel_allocations_with_rollbacks_are_gap_free(make_org):
    org = make_org()
    committed, errors = [], []
    lock = threading.Lock()
    rng = random.Random(4)
    plan = [rng.random() < 0.3 for _ in range(80)]  # True: this transaction rolls back
    start = threading.Barrier(8)

    def worker(chunk):
        try:
            start.wait()
            for rollback in chunk:
                try:
                    with transaction.atomic():
                        number = allocate_number(organization=org, kind=Invoice.Kind.INVOICE)
                        if rollback:
                            raise RuntimeError("rolled back freeze")
                    with lock:
                        committed.append(number)
                except RuntimeError:
                    pass
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(plan[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    k = plan.count(False)
    assert sorted(committed) == [f"INV{n:06d}" for n in range(1, k + 1)]
    assert InvoiceSequence.objects.get(organization=org, kind=Invoice.Kind.INVOICE).last_number == k
