"""Trigger rules and field maps: validation with per-field errors."""
from decimal import Decimal

import pytest

from integrations.connections.rules import (TriggerRule, field_map_read, field_map_validate,
                                            trigger_rule_validate)
from taxpoynt.errors import ApplicationError

DEFAULTS = {"won_stages": ["closedwon"], "lost_stages": ["closedlost"]}
SOURCES = ("deal", "company", "contact", "line_item")


def test_defaults_are_standard_vat():
    rule = trigger_rule_validate({}, defaults=DEFAULTS)
    assert rule["won_stages"] == ["closedwon"] and rule["tax_category"] == "STANDARD_VAT"
    assert Decimal(rule["tax_rate"]) == Decimal("7.5")


def test_pipeline_scoped_stages_match_only_their_pipeline():
    rule = TriggerRule(won_stages=("closedwon", "enterprise:9001"), lost_stages=("closedlost",))
    assert rule.is_won(pipeline="default", stage="closedwon")
    assert rule.is_won(pipeline="enterprise", stage="9001")
    assert not rule.is_won(pipeline="default", stage="9001")
    assert rule.is_lost(pipeline="x", stage="closedlost")


@pytest.mark.parametrize("data,field", [
    ({"won_stages": []}, "won_stages"),
    ({"won_stages": ["a"], "lost_stages": ["a"]}, "lost_stages"),
    ({"tax_category": "TEN_PERCENT_VAT"}, "tax_category"),
    ({"tax_rate": "abc"}, "tax_rate"),
    ({"tax_rate": "0"}, "tax_rate"),
    ({"tax_category": "EXEMPTED"}, "exemption_reason"),
])
def test_invalid_rules_name_the_field(data, field):
    with pytest.raises(ApplicationError) as exc:
        trigger_rule_validate(data, defaults=DEFAULTS)
    assert field in exc.value.extra


def test_field_map_validation_and_reading():
    cleaned = field_map_validate({"customer.tin": "company.tin_number", "invoice.note": " "}, sources=SOURCES)
    assert cleaned == {"customer.tin": "company.tin_number"}
    assert field_map_read(cleaned, "customer.tin", {"company": {"tin_number": " 123-1 "}}) == "123-1"
    assert field_map_read(cleaned, "customer.tin", {"company": {}}) is None
    with pytest.raises(ApplicationError) as exc:
        field_map_validate({"customer.shoe_size": "company.x", "customer.tin": "invoice.tin",
                            "line.item_code": "company.sku"}, sources=SOURCES)
    assert set(exc.value.extra) == {"customer.shoe_size", "customer.tin", "line.item_code"}


def test_a_provider_without_stages_and_with_fewer_map_targets():
    """A POS provider's rule has no stages (none required, none stored), and
    its field map fills only the invoice fields its mapper reads."""
    rule = trigger_rule_validate({"tax_category": "EXEMPTED", "exemption_reason": "Basic food"}, defaults={},
                                 parts=("tax",))
    assert rule == {"tax_category": "EXEMPTED", "tax_rate": "0", "exemption_reason": "Basic food"}
    assert field_map_validate({"customer.tin": "metadata.buyer_tin"}, sources=("metadata",),
                              targets=("customer.tin",)) == {"customer.tin": "metadata.buyer_tin"}
    with pytest.raises(ApplicationError) as exc:
        field_map_validate({"invoice.note": "metadata.note"}, sources=("metadata",), targets=("customer.tin",))
    assert "invoice.note" in exc.value.extra
