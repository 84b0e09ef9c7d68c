"""Random but realistic Nigerian point-of-sale orders for the sandbox: items
with modifiers, line and order discounts, inclusive or additive VAT (and
zero-rated lines), tips and service charges, in Square's CreateOrder shape
(money in kobo)."""
from __future__ import annotations

import random
import zlib

# (name, variation, price in kobo, taxable, possible modifiers)
MENU = (
    ("Jollof Rice", "Large", 350000, True, (("Extra Chicken", 150000), ("Fried Plantain", 70000))),
    ("Suya Platter", "Regular", 250000, True, (("Extra Spice", 0), ("Onions & Tomatoes", 30000))),
    ("Chapman", "Glass", 180000, True, (("Extra Ice", 0),)),
    ("Pounded Yam & Egusi", "Regular", 450000, True, (("Goat Meat", 200000), ("Stockfish", 150000))),
    ("Small Chops", "Box of 12", 300000, True, ()),
    ("Zobo", "Bottle", 120000, True, ()),
    ("Puff-Puff", "Pack of 6", 80000, True, ()),
    ("Latte", "Medium", 280000, True, (("Oat Milk", 50000), ("Extra Shot", 60000))),
    ("Bottled Water", "75cl", 30000, False, ()),
    ("Agege Bread", "Loaf", 120000, False, ()),
)
CARD_BRANDS = ("VISA", "MASTERCARD", "VERVE")


def random_order_shape(rng: random.Random, *, currency: str = "NGN", vat_percentage: str = "7.5") -> dict:
    """One sale: returns {"order": CreateOrder body, "tip": int, "tender_type": str}."""
    inclusive = rng.random() < 0.5
    vat = {"uid": "vat", "name": "VAT", "percentage": vat_percentage,
           "type": "INCLUSIVE" if inclusive else "ADDITIVE", "scope": "LINE_ITEM"}
    zero = {"uid": "zero", "name": "VAT zero-rated", "percentage": "0", "type": "ADDITIVE", "scope": "LINE_ITEM"}
    taxes, discounts, lines = [vat], [], []
    for n, (name, variation, price, taxable, mods) in enumerate(rng.sample(MENU, rng.randint(1, 4)), 1):
        line = {
            "uid": f"li{n}",
            "name": name,
            "variation_name": variation,
            "catalog_object_id": f"VAR{zlib.crc32(name.encode()):010d}",
            "quantity": str(rng.randint(1, 3)),
            "base_price_money": {"amount": price, "currency": currency},
            "modifiers": [
                {"uid": f"li{n}m{k}", "name": m_name, "base_price_money": {"amount": m_price, "currency": currency},
                 "quantity": "1"}
                for k, (m_name, m_price) in enumerate(mods, 1) if rng.random() < 0.5
            ],
            "applied_taxes": [{"uid": f"li{n}t", "tax_uid": "vat" if taxable else "zero"}],
            "applied_discounts": [],
            "item_type": "ITEM",
        }
        if not taxable and zero not in taxes:
            taxes.append(zero)
        if rng.random() < 0.25:
            d_uid = f"li{n}d"
            if rng.random() < 0.5:
                discounts.append({"uid": d_uid, "name": "Happy Hour", "type": "FIXED_PERCENTAGE",
                                  "percentage": rng.choice(["5", "10", "12.5"]), "scope": "LINE_ITEM"})
            else:
                discounts.append({"uid": d_uid, "name": "Promo", "type": "FIXED_AMOUNT",
                                  "amount_money": {"amount": rng.choice([10000, 25000, 50000]), "currency": currency},
                                  "scope": "LINE_ITEM"})
            line["applied_discounts"].append({"uid": f"li{n}da", "discount_uid": d_uid})
        lines.append(line)
    if rng.random() < 0.3:
        if rng.random() < 0.5:
            discounts.append({"uid": "od", "name": "Loyalty", "type": "FIXED_PERCENTAGE",
                              "percentage": rng.choice(["5", "10"]), "scope": "ORDER"})
        else:
            discounts.append({"uid": "od", "name": "Voucher", "type": "FIXED_AMOUNT",
                              "amount_money": {"amount": rng.choice([20000, 50000]), "currency": currency},
                              "scope": "ORDER"})
    service_charges = []
    if rng.random() < 0.3:
        service_charges.append({"uid": "sc1", "name": "Service Charge", "percentage": rng.choice(["5", "10"]),
                                "calculation_phase": "SUBTOTAL_PHASE", "taxable": True,
                                "applied_taxes": [{"uid": "sc1t", "tax_uid": "vat"}]})
    if rng.random() < 0.1:
        service_charges.append({"uid": "sc2", "name": "Delivery",
                                "amount_money": {"amount": 100000, "currency": currency},
                                "calculation_phase": "TOTAL_PHASE", "taxable": False})
    tip = rng.choice([0, 0, 0, 20000, 50000, 100000])
    return {
        "order": {"line_items": lines, "taxes": taxes, "discounts": discounts, "service_charges": service_charges},
        "tip": tip,
        "tender_type": rng.choice(["CARD", "CARD", "CASH"]),
        "card_brand": rng.choice(CARD_BRANDS),
    }
