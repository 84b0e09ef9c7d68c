"""The sales and locations admin: a mirror of the vendor's rows that support
reads and never edits (what an invoice was made from stays what it was)."""
import html
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from integrations.pos.models import Location, Transaction
from tests import factories


@pytest.fixture
def invoiced_sale(make_org):
    org = make_org()
    world = factories.tenant_world(org)
    sale = world["transaction"]
    Transaction.objects.filter(pk=sale.pk).update(invoice=world["invoice"], status=Transaction.Status.COMPLETED)
    sale.refresh_from_db()
    return sale


@pytest.mark.django_db
def test_an_invoiced_sale_cannot_be_edited_from_admin(client, make_user, make_org, invoiced_sale):
    theirs = factories.tenant_world(make_org())["location"]
    agent = factories.support_agent(make_user(), invoiced_sale.organization, may=("view", "change"))
    client.force_login(agent)
    url = reverse("admin:pos_transaction_change", args=[invoiced_sale.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert not page.context["adminform"].form.fields  # every field shown read-only
    assert str(theirs.pk).encode() not in page.content
    client.post(url, {"location": str(theirs.pk), "total_amount": "1.00", "tax_amount": "0", "tip_amount": "0",
                      "status": Transaction.Status.CANCELED, "currency": "USD", "occurred_at_0": "2020-01-01",
                      "occurred_at_1": "00:00:00"})
    sale = Transaction.objects.get(pk=invoiced_sale.pk)
    assert (sale.location_id, sale.total_amount, sale.status, sale.currency) == (
        invoiced_sale.location_id, Decimal("10.75"), Transaction.Status.COMPLETED, "NGN")


@pytest.mark.django_db
def test_a_location_is_read_only_and_cannot_be_added(client, make_user, invoiced_sale):
    agent = factories.support_agent(make_user(), invoiced_sale.organization, may=("view", "add", "change"))
    client.force_login(agent)
    location = invoiced_sale.location
    url = reverse("admin:pos_location_change", args=[location.pk])
    client.post(url, {"name": "Renamed", "active": ""})
    location = Location.objects.get(pk=location.pk)
    assert location.name == "Shop" and location.active
    assert client.get(reverse("admin:pos_location_add")).status_code == 403


@pytest.mark.django_db
def test_a_sale_page_leads_to_its_webhook_events(client, make_user, invoiced_sale):
    from integrations.connections.models import WebhookEvent

    def event(conn, event_id, order_id):
        body = f'{{"type":"order.updated","data":{{"type":"order","id":"{order_id}"}}}}'.encode()
        return WebhookEvent.objects.create(vendor="square", event_id=event_id, event_type="order.updated",
                                           connection=conn, organization=conn.organization, raw_body=body)

    mine = event(invoiced_sale.connection, "e-mine", invoiced_sale.external_id)
    event(invoiced_sale.connection, "e-other-sale", "some-other-order")
    other_seller = factories.connection(invoiced_sale.organization, vendor="square", kind="pos")
    event(other_seller, "e-other-seller", invoiced_sale.external_id)  # same id, another seller's account
    client.force_login(factories.support_agent(make_user(), invoiced_sale.organization, may=("view",)))
    page = client.get(reverse("admin:pos_transaction_change", args=[invoiced_sale.pk]))
    link = re.search(rb'href="([^"]*/admin/connections/webhookevent/\?[^"]*)"', page.content)
    assert link, "the sale's page links to its webhook events"
    events = client.get(html.unescape(link.group(1).decode()))
    assert events.status_code == 200
    assert list(events.context["cl"].result_list) == [mine]
