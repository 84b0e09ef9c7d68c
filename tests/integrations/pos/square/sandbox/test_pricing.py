"""The sandbox's Square order calculator (integrations/pos/square/sandbox/pricing.py)."""
import random

from integrations.pos.square.sandbox import pricing
from integrations.pos.square.sandbox.sales import random_order_shape


def m(amount):
    return {"amount": amount, "currency": "NGN"}


def line(uid, price, qty="1", modifiers=(), taxes=(), discounts=()):
    return {"uid": uid, "name": uid, "quantity": qty, "base_price_money": m(price),
            "modifiers": [{"uid": f"{uid}-m{i}", "name": n, "base_price_money": m(p), "quantity": q}
                          for i, (n, p, q) in enumerate(modifiers)],
            "applied_taxes": [{"tax_uid": t} for t in taxes],
            "applied_discounts": [{"discount_uid": d} for d in discounts]}


def test_bankers_rounding_and_apportion():
    assert pricing._round("0.5") == 0 and pricing._round("1.5") == 2 and pricing._round("2.5") == 2
    assert pricing.apportion(100, [1, 1, 1]) == [34, 33, 33]
    assert sum(pricing.apportion(999, [5, 7, 11, 13])) == 999
    assert pricing.apportion(0, [1, 2]) == [0, 0]


def test_modifiers_are_per_unit_of_the_line():
    order = {"line_items": [line("latte", 450, qty="2", modifiers=[("Oat", 50, "1"), ("Shot", 60, "2")])]}
    pricing.price_order(order)
    li = order["line_items"][0]
    assert li["variation_total_price_money"]["amount"] == 900
    assert [x["total_price_money"]["amount"] for x in li["modifiers"]] == [100, 240]
    assert li["gross_sales_money"]["amount"] == 1240
    assert order["total_money"]["amount"] == 1240


def test_additive_tax_applies_after_discounts_and_not_to_tips():
    order = {
        "line_items": [line("a", 10000, qty="2", taxes=["vat"], discounts=["ld"]), line("b", 5000, taxes=["vat"])],
        "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "ADDITIVE", "scope": "LINE_ITEM"}],
        "discounts": [{"uid": "ld", "name": "10%", "type": "FIXED_PERCENTAGE", "percentage": "10", "scope": "LINE_ITEM"},
                      {"uid": "od", "name": "Voucher", "type": "FIXED_AMOUNT", "amount_money": m(1000),
                       "scope": "ORDER"}],
        "tenders": [{"type": "CARD", "tip_money": m(700)}],
    }
    pricing.price_order(order)
    a, b = order["line_items"]
    # line a: 20000 gross − 10 % = 18000; the voucher 1000 apportioned 18000:5000 → 783 / 217
    assert [x["applied_money"]["amount"] for x in a["applied_discounts"]] == [2000, 783]
    assert a["total_discount_money"]["amount"] == 2783
    assert b["total_discount_money"]["amount"] == 217
    assert a["total_tax_money"]["amount"] == 1291  # 17217 × 7.5 % = 1291.275
    assert b["total_tax_money"]["amount"] == 359  # 4783 × 7.5 % = 358.725
    assert a["total_money"]["amount"] == 17217 + 1291
    assert order["taxes"][0]["applied_money"]["amount"] == 1650
    assert order["discounts"][1]["applied_money"]["amount"] == 1000
    assert order["total_tax_money"]["amount"] == 1650
    assert order["total_discount_money"]["amount"] == 3000
    assert order["total_tip_money"]["amount"] == 700
    # tips are not taxed but are collected: part of total_money
    assert order["total_money"]["amount"] == (25000 - 3000) + 1650 + 700


def test_inclusive_tax_is_extracted_from_the_discounted_price():
    order = {
        "line_items": [line("a", 107500, taxes=["vat"]), line("b", 1000, qty="3", taxes=["vat"])],
        "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "INCLUSIVE", "scope": "ORDER"}],
        "discounts": [{"uid": "od", "name": "5%", "type": "FIXED_PERCENTAGE", "percentage": "5", "scope": "ORDER"}],
    }
    pricing.price_order(order)
    a, b = order["line_items"]
    # order discount: 5 % of 110500 = 5525, apportioned 107500:3000 → 5375 / 150
    assert a["total_discount_money"]["amount"] == 5375 and b["total_discount_money"]["amount"] == 150
    # inclusive: 102125 × 7.5 / 107.5 = 7125; 2850 × 7.5 / 107.5 = 198.84 → 199
    assert a["total_tax_money"]["amount"] == 7125 and b["total_tax_money"]["amount"] == 199
    # inclusive tax is inside the price: the line total is the discounted price
    assert a["total_money"]["amount"] == 102125 and b["total_money"]["amount"] == 2850
    assert order["total_money"]["amount"] == 104975
    assert order["total_tax_money"]["amount"] == 7324
    # applied taxes were created for the ORDER-scoped tax on every line
    assert all(li["applied_taxes"][0]["tax_uid"] == "vat" for li in order["line_items"])


def test_two_taxes_on_a_line_each_on_the_same_amount():
    """VAT and a consumption tax on one line: two ADDITIVE taxes are each added
    to the same discounted amount, not compounded (Orders API "Order Taxes":
    5 % and 8.5 % on one item); two INCLUSIVE ones are taken out of the price
    together, each its share of it (constants: UNCONFIRMED)."""
    taxes = [{"uid": "vat", "name": "VAT", "percentage": "7.5", "scope": "LINE_ITEM"},
             {"uid": "levy", "name": "Consumption Tax", "percentage": "5", "scope": "LINE_ITEM"}]
    additive = pricing.price_order({"line_items": [line("a", 333300, qty="3", taxes=["vat", "levy"])],
                                    "taxes": [dict(t, type="ADDITIVE") for t in taxes]})
    a = additive["line_items"][0]
    # 999900 × 7.5 % = 74992.5 → 74992 (half to even); × 5 % = 49995
    assert [x["applied_money"]["amount"] for x in a["applied_taxes"]] == [74992, 49995]
    assert (a["total_tax_money"]["amount"], a["total_money"]["amount"]) == (124987, 999900 + 124987)
    inclusive = pricing.price_order({"line_items": [line("a", 333300, qty="3", taxes=["vat", "levy"])],
                                     "taxes": [dict(t, type="INCLUSIVE") for t in taxes]})
    i = inclusive["line_items"][0]
    # 999900 × 7.5 / 112.5 = 66660, × 5 / 112.5 = 44440: the net 888800 is 999900 × 100 / 112.5
    assert [x["applied_money"]["amount"] for x in i["applied_taxes"]] == [66660, 44440]
    assert (i["total_tax_money"]["amount"], i["total_money"]["amount"]) == (111100, 999900)
    assert [t["applied_money"]["amount"] for t in inclusive["taxes"]] == [66660, 44440]


def test_service_charges_subtotal_phase_taxable_and_total_phase():
    order = {
        "line_items": [line("a", 20000, taxes=["vat"])],
        "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "ADDITIVE", "scope": "ORDER"}],
        "service_charges": [
            {"uid": "sc", "name": "Service", "percentage": "10", "calculation_phase": "SUBTOTAL_PHASE", "taxable": True},
            {"uid": "del", "name": "Delivery", "amount_money": m(1000), "calculation_phase": "TOTAL_PHASE",
             "taxable": True},
        ],
    }
    pricing.price_order(order)
    sc, delivery = order["service_charges"]
    assert sc["applied_money"]["amount"] == 2000
    assert sc["total_tax_money"]["amount"] == 150 and sc["total_money"]["amount"] == 2150
    assert delivery["taxable"] is False  # TOTAL_PHASE charges cannot be taxable
    assert delivery["total_tax_money"]["amount"] == 0 and delivery["total_money"]["amount"] == 1000
    assert order["taxes"][0]["applied_money"]["amount"] == 1500 + 150
    assert order["total_service_charge_money"]["amount"] == 3000
    assert order["total_money"]["amount"] == 21500 + 2150 + 1000


def test_discounts_follow_squares_sequence_and_round_once_a_line():
    """Square's sequence: percentages before amounts (Orders API "Order
    Discounts"). The totals are a Square forum order's (915 JPY, a 5 %
    service charge: 10 % off → 865; 10 % and 4 off → 861; 10 % and 5 off →
    859), which only rounding each line once, at the end, reproduces."""
    def jpy(amount):
        return {"amount": amount, "currency": "JPY"}

    def fanta(*discounts):
        order = {"line_items": [{"uid": "fanta", "name": "Fanta", "quantity": "1", "base_price_money": jpy(915)}],
                 "discounts": [{"uid": "p", "name": "10%", "type": "FIXED_PERCENTAGE", "percentage": "10",
                                "scope": "ORDER"}, *discounts],
                 "service_charges": [{"uid": "sc", "name": "Service", "percentage": "5",
                                      "calculation_phase": "SUBTOTAL_PHASE"}]}
        return pricing.price_order(order)

    def off(amount):
        return {"uid": "f", "name": "off", "type": "FIXED_AMOUNT", "amount_money": jpy(amount), "scope": "ORDER"}

    order = fanta()
    assert order["discounts"][0]["applied_money"]["amount"] == 91  # 823.5 → 824, not 91.5 → 92
    assert order["total_money"]["amount"] == 865
    order = fanta(off(4))
    assert [d["applied_money"]["amount"] for d in order["discounts"]] == [91, 4]  # as Square answered
    assert order["line_items"][0]["total_money"]["amount"] == 820 and order["total_money"]["amount"] == 861
    order = fanta(off(5))
    assert [d["applied_money"]["amount"] for d in order["discounts"]] == [92, 5]  # 818.5 → 818
    assert order["total_money"]["amount"] == 859


def test_line_percentages_compound_before_order_ones_and_amounts_come_last():
    order = {"line_items": [line("a", 10000, discounts=["l10", "l5", "l300"])],
             "discounts": [{"uid": "l10", "name": "10%", "type": "FIXED_PERCENTAGE", "percentage": "10",
                            "scope": "LINE_ITEM"},
                           {"uid": "l5", "name": "5%", "type": "VARIABLE_PERCENTAGE", "percentage": "5",
                            "scope": "LINE_ITEM"},
                           {"uid": "l300", "name": "300 off", "type": "VARIABLE_AMOUNT", "amount_money": m(300),
                            "scope": "LINE_ITEM"},
                           {"uid": "o20", "name": "20%", "type": "FIXED_PERCENTAGE", "percentage": "20",
                            "scope": "ORDER"}]}
    pricing.price_order(order)
    # 10000 − 10 % = 9000 − 5 % = 8550 − 20 % = 6840 − 300 = 6540; VARIABLE_* priced like FIXED_*
    assert [d["applied_money"]["amount"] for d in order["discounts"]] == [1000, 450, 300, 1710]
    assert order["total_money"]["amount"] == 6540


def test_random_sales_are_internally_consistent():
    rng = random.Random(99)
    for _ in range(300):
        shape = random_order_shape(rng)
        order = shape["order"]
        order["tenders"] = [{"type": "CARD", "tip_money": m(shape["tip"])}]
        pricing.price_order(order)
        lines = order["line_items"]
        for li in lines:
            additive = sum(a["applied_money"]["amount"] for a in li["applied_taxes"]
                           if next(t for t in order["taxes"] if t["uid"] == a["tax_uid"])["type"] == "ADDITIVE")
            assert li["total_money"]["amount"] == (li["gross_sales_money"]["amount"]
                                                   - li["total_discount_money"]["amount"] + additive)
            assert li["total_discount_money"]["amount"] == sum(a["applied_money"]["amount"]
                                                               for a in li["applied_discounts"])
        assert order["total_tax_money"]["amount"] == sum(t["applied_money"]["amount"] for t in order["taxes"])
        assert order["total_discount_money"]["amount"] == sum(d["applied_money"]["amount"] for d in order["discounts"])
        assert order["total_money"]["amount"] == (sum(li["total_money"]["amount"] for li in lines)
                                                  + sum(s["total_money"]["amount"] for s in order["service_charges"])
                                                  + shape["tip"])
        # pricing twice changes nothing (the sandbox re-prices when the tip arrives)
        before = repr(order)
        pricing.price_order(order)
        assert repr(order) == before


def test_partial_return_scales_the_line_and_full_return_matches_the_sale():
    order = {"id": "sale1", "line_items": [line("a", 1000, qty="3", taxes=["vat"])],
             "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "ADDITIVE", "scope": "ORDER"}],
             "tenders": [{"id": "t1", "type": "CASH", "tip_money": m(100)}]}
    pricing.price_order(order)
    part = pricing.price_return(order, [{"source_line_item_uid": "a", "quantity": "1"}],
                                include_service_charges=False, include_tips=False)
    rl = part["return_line_items"][0]
    assert rl["gross_return_money"]["amount"] == 1000 and rl["total_tax_money"]["amount"] == 75
    assert part["return_amounts"]["total_money"]["amount"] == 1075
    assert rl["applied_taxes"][0]["tax_uid"] == part["return_taxes"][0]["uid"]
    full = pricing.price_return(order, [{"source_line_item_uid": "a", "quantity": "3"}],
                                include_service_charges=True, include_tips=True)
    assert full["return_amounts"]["total_money"] == order["total_money"]
    assert full["return_amounts"]["tax_money"] == order["total_tax_money"]
    assert full["return_amounts"]["tip_money"]["amount"] == 100


def apportioned_sale() -> dict:
    """A CreateOrder body: a 10 % service charge apportioned over every line,
    and a packaging charge on one line only."""
    b = line("b", 100000, taxes=["vat"])
    b["applied_service_charges"] = [{"service_charge_uid": "pack"}]
    return {"line_items": [line("a", 250000, qty="2", taxes=["vat"]), b],
            "taxes": [{"uid": "vat", "name": "VAT", "percentage": "7.5", "type": "ADDITIVE", "scope": "ORDER"}],
            "service_charges": [
                {"uid": "sc", "name": "Service 10%", "percentage": "10",
                 "calculation_phase": "APPORTIONED_PERCENTAGE_PHASE", "taxable": True},
                {"uid": "pack", "name": "Packaging", "amount_money": m(3000), "scope": "LINE_ITEM",
                 "calculation_phase": "APPORTIONED_AMOUNT_PHASE", "taxable": True}]}


def test_apportioned_service_charges_are_shares_of_the_lines_taxed_with_them():
    order = pricing.price_order(apportioned_sale())
    a, b = order["line_items"]
    assert [x["applied_money"]["amount"] for x in a["applied_service_charges"]] == [50000]
    assert {x["service_charge_uid"]: x["applied_money"]["amount"] for x in b["applied_service_charges"]} == {
        "pack": 3000, "sc": 10000}
    assert (a["total_service_charge_money"]["amount"], b["total_service_charge_money"]["amount"]) == (50000, 13000)
    # in the line's gross sales, taxed with the line, in its total
    assert a["gross_sales_money"]["amount"] == 550000 and a["total_tax_money"]["amount"] == 41250
    assert b["total_tax_money"]["amount"] == 8475 and b["total_money"]["amount"] == 113000 + 8475
    assert [sc["applied_money"]["amount"] for sc in order["service_charges"]] == [60000, 3000]
    assert order["total_service_charge_money"]["amount"] == 63000
    assert order["total_tax_money"]["amount"] == 49725
    assert order["total_money"]["amount"] == 591250 + 121475  # each charge once, in its lines
    assert repr(pricing.price_order(order)) == repr(order)  # pricing twice changes nothing
