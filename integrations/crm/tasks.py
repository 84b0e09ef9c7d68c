"""CRM beat tasks (crm queue by module). Thin: select, call the service."""
from celery import shared_task

from .selectors import deals_awaiting_credit_note
from .services import deal_reconcile


@shared_task(acks_late=True)
def reconcile_lost_deals(limit: int = 200):
    """Issue the credit notes that had to wait for their invoice to be signed
    (a deal lost while its invoice was still in flight to FIRS)."""
    done = 0
    for deal in deals_awaiting_credit_note(limit=limit):
        deal_reconcile(deal=deal)
        done += 1
    return done
