"""The sandbox's order calculator: fills in every computed money field of a
Square order the way Square's Orders API does, so sandbox orders are
internally consistent and look like real ones.

Rules (Orders API "Order price adjustments"; the UNCONFIRMED readings are
listed once in `integrations.pos.square.constants`):
- amounts are integers in the currency's minor unit; every rounding is
  Bankers' rounding (half to even), as Square documents;
- a line's gross sales = base price × quantity + each modifier's
  base price × modifier quantity × line quantity;
- discounts apply before tax, in Square's documented sequence: item-level
  percentages, order-level percentages, item-level amounts, order-level
  amounts (`_discount_lines`); VARIABLE_* discounts like FIXED_* ones (their
  value is set on the order at the sale); an order-level amount is
  apportioned over the lines (largest remainder), so line amounts add up;
- taxes are computed per line (and per taxable service charge) on the amount
  after discounts: an INCLUSIVE tax is extracted from that amount
  (amount × p / (100 + Σ inclusive p)), an ADDITIVE one is added on top of the
  amount net of inclusive taxes;
- APPORTIONED_*_PHASE service charges are shares of the lines, in their
  gross sales, tax and total (`_apportion_service_charges`);
- SUBTOTAL_PHASE service charges are computed on the discounted subtotal and
  may be taxable (ORDER-scoped taxes then apply to them); TOTAL_PHASE ones on
  the total after tax and are never taxable;
- tips come from the tenders, are never taxed, and are part of total_money.
"""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from integrations.pos.square import constants

HUNDRED = Decimal(100)


def _round(value) -> int:
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def money(amount: int, currency: str) -> dict:
    return {"amount": int(amount), "currency": currency}


def apportion(total: int, weights: list[int]) -> list[int]:
    """Split `total` over `weights` proportionally; the parts add up exactly
    (largest remainder, ties to the earlier weight)."""
    weight_sum = sum(weights)
    if total == 0 or weight_sum <= 0:
        return [0] * len(weights)
    exact = [Decimal(total) * w / weight_sum for w in weights]
    parts = [int(e) for e in exact]  # truncation toward zero; total >= 0 here
    short = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:short]:
        parts[i] += 1
    return parts


def _ensure_uid(obj: dict, prefix: str, counter: list[int]) -> str:
    if not obj.get("uid"):
        counter[0] += 1
        obj["uid"] = f"{prefix}{counter[0]}"
    return obj["uid"]


def _order_currency(order: dict) -> str:
    for li in order.get("line_items", []):
        if li.get("base_price_money"):
            return li["base_price_money"]["currency"]
    for sc in order.get("service_charges", []):
        if sc.get("amount_money"):
            return sc["amount_money"]["currency"]
    return order.get("currency", "NGN")


def _tax_amounts(base: int, taxes: list[dict]) -> list[int]:
    """Tax on `base` (an amount after discounts, inclusive taxes inside it)
    for each tax in `taxes`, in order."""
    inclusive_sum = sum(Decimal(t["percentage"]) for t in taxes if t.get("type") == "INCLUSIVE")
    net = Decimal(base) * HUNDRED / (HUNDRED + inclusive_sum)
    out = []
    for t in taxes:
        pct = Decimal(t["percentage"])
        if t.get("type") == "INCLUSIVE":
            out.append(_round(Decimal(base) * pct / (HUNDRED + inclusive_sum)))
        else:
            out.append(_round(net * pct / HUNDRED))
    return out


PERCENTAGE_DISCOUNTS = ("FIXED_PERCENTAGE", "VARIABLE_PERCENTAGE")  # VARIABLE_*: the value is set at the sale
AMOUNT_DISCOUNTS = ("FIXED_AMOUNT", "VARIABLE_AMOUNT")


def _discount_lines(lines: list[dict], gross: list[int], disc_by_uid: dict,
                    order_discounts: list[dict]) -> tuple[list[int], list[dict[str, int]]]:
    """(each line's amount after discounts, each line's {discount uid: applied
    amount}). Square's sequence (Orders API "Order Discounts"): item-level
    percentages, order-level percentages, item-level fixed amounts, then
    order-level fixed amounts, each on what the previous left (percentages
    compound); an order-level discount is taken from each line it applies to,
    a fixed amount apportioned over them by what is left of each. The
    arithmetic is exact and each line's discounted amount is rounded once, at
    the end (see `constants`); the percentages take that rounding, by the
    largest remainder when a line has several."""
    exact = [Decimal(g) for g in gross]
    parts: list[dict[str, Decimal]] = [{} for _ in lines]

    def take(i: int, uid: str, amount: Decimal) -> None:
        amount = min(amount, exact[i])
        parts[i][uid] = parts[i].get(uid, Decimal(0)) + amount
        exact[i] -= amount

    def line_scoped(i: int, types) -> list[dict]:
        return [d for d in (disc_by_uid[a["discount_uid"]] for a in lines[i]["applied_discounts"])
                if d.get("scope") == "LINE_ITEM" and d.get("type") in types]

    def holders(d: dict) -> list[int]:
        return [i for i, li in enumerate(lines) if any(a["discount_uid"] == d["uid"] for a in li["applied_discounts"])]

    for i in range(len(lines)):
        for d in line_scoped(i, PERCENTAGE_DISCOUNTS):
            take(i, d["uid"], exact[i] * Decimal(d["percentage"]) / HUNDRED)
    for d in order_discounts:
        if d.get("type") in PERCENTAGE_DISCOUNTS:
            for i in holders(d):
                take(i, d["uid"], exact[i] * Decimal(d["percentage"]) / HUNDRED)
    for i in range(len(lines)):
        for d in line_scoped(i, AMOUNT_DISCOUNTS):
            take(i, d["uid"], Decimal(d["amount_money"]["amount"]))
    for d in order_discounts:
        if d.get("type") in AMOUNT_DISCOUNTS:
            idx = holders(d)
            weights = [exact[i] for i in idx]
            amount = min(d["amount_money"]["amount"], _round(sum(weights, Decimal(0))))
            for i, part in zip(idx, apportion(amount, weights)):
                take(i, d["uid"], Decimal(part))

    remaining, applied = [], []
    for i, g in enumerate(gross):
        left = _round(exact[i])
        whole = {uid: int(v) for uid, v in parts[i].items()
                 if v == v.to_integral_value() and disc_by_uid[uid].get("type") in AMOUNT_DISCOUNTS}
        shared = [uid for uid in parts[i] if uid not in whole]
        whole.update(zip(shared, apportion(g - left - sum(whole.values()), [parts[i][uid] for uid in shared])))
        remaining.append(left)
        applied.append(whole)
    return remaining, applied


APPORTIONED_PHASES = ("APPORTIONED_PERCENTAGE_PHASE", "APPORTIONED_AMOUNT_PHASE")  # in this order


def _apportion_service_charges(lines: list[dict], remaining: list[int], charges: list[dict], cur: str,
                               counter: list[int]) -> list[int]:
    """Each line's share of the apportioned service charges (Orders API
    OrderServiceChargeCalculationPhase: after discounts, percentage ones
    compounding before amount ones, before any tax). An ORDER-scoped one goes
    on every line, a LINE_ITEM-scoped one on the lines that reference it
    (`applied_service_charges`); a percentage is taken from each line, an
    amount apportioned by what each line is then. The line's share is in its
    gross sales, tax and total (a real Square order shows it so: forum
    t/10789); the charge's own `total_money` is its `applied_money`, its
    tax being in the lines' (UNCONFIRMED)."""
    shares = [0] * len(lines)
    for phase in APPORTIONED_PHASES:
        for sc in charges:
            if sc.get("calculation_phase") != phase:
                continue
            sc["treatment_type"] = "APPORTIONED_TREATMENT"
            sc.setdefault("scope", "ORDER")
            idx = []
            for i, li in enumerate(lines):
                refs = li.setdefault("applied_service_charges", [])
                ref = next((a for a in refs if a.get("service_charge_uid") == sc["uid"]), None)
                if ref is None and sc["scope"] == "ORDER":
                    ref = {"service_charge_uid": sc["uid"]}
                    refs.append(ref)
                if ref is not None:
                    _ensure_uid(ref, "applied-", counter)
                    idx.append((i, ref))
            bases = [remaining[i] + shares[i] for i, _ in idx]
            if sc.get("amount_money"):
                parts = apportion(sc["amount_money"]["amount"], bases)
            else:
                parts = [_round(b * Decimal(sc["percentage"]) / HUNDRED) for b in bases]
            for (i, ref), part in zip(idx, parts):
                ref["applied_money"] = money(part, cur)
                shares[i] += part
            sc["applied_money"] = sc["total_money"] = money(sum(parts), cur)
            sc["total_tax_money"] = money(0, cur)
    return shares


def price_order(order: dict) -> dict:
    """Compute every derived money field of `order` in place and return it.

    Input is the CreateOrder shape: line_items (quantity, base_price_money,
    modifiers, applied_taxes/applied_discounts for LINE_ITEM-scoped ones),
    taxes, discounts, service_charges and tenders (amount ignored; tip used).
    """
    cur = _order_currency(order)
    counter = [0]
    lines = order.setdefault("line_items", [])
    taxes = order.setdefault("taxes", [])
    discounts = order.setdefault("discounts", [])
    charges = order.setdefault("service_charges", [])
    for obj, prefix in [(t, "tax-") for t in taxes] + [(d, "disc-") for d in discounts] + [
        (s, "sc-") for s in charges
    ]:
        _ensure_uid(obj, prefix, counter)
    tax_by_uid = {t["uid"]: t for t in taxes}
    disc_by_uid = {d["uid"]: d for d in discounts}
    order_taxes = [t for t in taxes if t.get("scope", "ORDER") == "ORDER"]
    order_discounts = [d for d in discounts if d.get("scope", "ORDER") == "ORDER"]

    # 1. gross sales per line
    gross = []
    for li in lines:
        _ensure_uid(li, "li-", counter)
        qty = Decimal(li["quantity"])
        base = li["base_price_money"]["amount"]
        variation_total = _round(base * qty)
        mods_total = 0
        for m in li.setdefault("modifiers", []):
            _ensure_uid(m, "mod-", counter)
            m_qty = Decimal(m.get("quantity", "1"))
            m["quantity"] = str(m.get("quantity", "1"))
            m_total = _round(m["base_price_money"]["amount"] * m_qty * qty)
            m["total_price_money"] = money(m_total, cur)
            mods_total += m_total
        li["variation_total_price_money"] = money(variation_total, cur)
        g = variation_total + mods_total
        li["gross_sales_money"] = money(g, cur)
        gross.append(g)
        applied = li.setdefault("applied_discounts", [])
        present = {a["discount_uid"] for a in applied}
        for d in order_discounts:
            if d["uid"] not in present:
                applied.append({"discount_uid": d["uid"]})
        applied_t = li.setdefault("applied_taxes", [])
        present_t = {a["tax_uid"] for a in applied_t}
        for t in order_taxes:
            if t["uid"] not in present_t:
                applied_t.append({"tax_uid": t["uid"]})
        for a in applied + applied_t:
            _ensure_uid(a, "applied-", counter)

    # 2. discounts (`_discount_lines`)
    remaining, line_disc = _discount_lines(lines, gross, disc_by_uid, order_discounts)
    disc_totals = {d["uid"]: 0 for d in discounts}
    for i, li in enumerate(lines):
        for a in li["applied_discounts"]:
            amt = line_disc[i].get(a["discount_uid"], 0)
            a["applied_money"] = money(amt, cur)
            disc_totals[a["discount_uid"]] += amt
        li["total_discount_money"] = money(gross[i] - remaining[i], cur)
    for d in discounts:
        d["applied_money"] = money(disc_totals[d["uid"]], cur)

    # 2b. apportioned service charges: shares of the lines, taxed with them
    shares = _apportion_service_charges(lines, remaining, charges, cur, counter)
    for i, li in enumerate(lines):
        li["gross_sales_money"] = money(gross[i] + shares[i], cur)

    # 3. taxes per line
    tax_totals = {t["uid"]: 0 for t in taxes}
    line_totals = []
    for i, li in enumerate(lines):
        applied_t = li["applied_taxes"]
        ts = [tax_by_uid[a["tax_uid"]] for a in applied_t]
        amounts = _tax_amounts(remaining[i] + shares[i], ts)
        additive = 0
        for a, t, amt in zip(applied_t, ts, amounts):
            a["applied_money"] = money(amt, cur)
            tax_totals[t["uid"]] += amt
            if t.get("type") != "INCLUSIVE":
                additive += amt
        li["total_tax_money"] = money(sum(amounts), cur)
        total = remaining[i] + shares[i] + additive
        li["total_money"] = money(total, cur)
        li["total_service_charge_money"] = money(shares[i], cur)
        line_totals.append(total)

    # 4. service charges
    subtotal = sum(remaining)
    sc_totals = []
    for phase in ("SUBTOTAL_PHASE", "TOTAL_PHASE"):
        for sc in charges:
            sc.setdefault("calculation_phase", "SUBTOTAL_PHASE")
            if sc["calculation_phase"] != phase:
                continue
            if phase == "SUBTOTAL_PHASE":
                base = subtotal
            else:
                sc["taxable"] = False  # Square: TOTAL_PHASE charges cannot be taxable
                base = sum(line_totals) + sum(sc_totals)
            if sc.get("amount_money"):
                applied = sc["amount_money"]["amount"]
            else:
                applied = _round(base * Decimal(sc["percentage"]) / HUNDRED)
            sc["applied_money"] = money(applied, cur)
            sc_taxes = []
            if sc.get("taxable"):
                applied_t = sc.setdefault("applied_taxes", [])
                present_t = {a["tax_uid"] for a in applied_t}
                for t in order_taxes:
                    if t["uid"] not in present_t:
                        applied_t.append({"tax_uid": t["uid"]})
                for a in applied_t:
                    _ensure_uid(a, "applied-", counter)
                sc_taxes = [tax_by_uid[a["tax_uid"]] for a in applied_t]
                amounts = _tax_amounts(applied, sc_taxes)
                additive = 0
                for a, t, amt in zip(applied_t, sc_taxes, amounts):
                    a["applied_money"] = money(amt, cur)
                    tax_totals[t["uid"]] += amt
                    if t.get("type") != "INCLUSIVE":
                        additive += amt
                sc["total_tax_money"] = money(sum(amounts), cur)
                sc["total_money"] = money(applied + additive, cur)
            else:
                sc["taxable"] = bool(sc.get("taxable", False))
                sc["total_tax_money"] = money(0, cur)
                sc["total_money"] = money(applied, cur)
            sc_totals.append(sc["total_money"]["amount"])
    for t in taxes:
        t["applied_money"] = money(tax_totals[t["uid"]], cur)

    # 5. tips and totals
    tips = sum((t.get("tip_money") or {}).get("amount", 0) for t in order.get("tenders", []))
    total_tax = sum(tax_totals.values())
    total_money = sum(line_totals) + sum(sc_totals) + (tips if constants.TOTAL_INCLUDES_TIPS else 0)
    order["total_money"] = money(total_money, cur)
    order["total_tax_money"] = money(total_tax, cur)
    order["total_discount_money"] = money(sum(disc_totals.values()), cur)
    order["total_tip_money"] = money(tips, cur)
    order["total_service_charge_money"] = money(sum(sc["applied_money"]["amount"] for sc in charges), cur)
    set_net_amounts(order)
    return order


def order_amounts(order: dict) -> dict:
    cur = order["total_money"]["currency"]
    return {
        "total_money": dict(order["total_money"]),
        "tax_money": dict(order["total_tax_money"]),
        "discount_money": dict(order["total_discount_money"]),
        "tip_money": dict(order.get("total_tip_money") or money(0, cur)),
        "service_charge_money": dict(order.get("total_service_charge_money") or money(0, cur)),
    }


def set_net_amounts(order: dict) -> None:
    """net_amounts = sale amounts − return_amounts (both OrderMoneyAmounts)."""
    sale = order_amounts(order)
    ret = order.get("return_amounts")
    if not ret:
        order["net_amounts"] = sale
        return
    order["net_amounts"] = {
        k: money(sale[k]["amount"] - ret.get(k, {"amount": 0})["amount"], sale[k]["currency"]) for k in sale
    }


def price_return(source: dict, items: list[dict], *, include_service_charges: bool, include_tips: bool,
                 uid_prefix: str = "ret") -> dict:
    """Build an OrderReturn for `items` ([{source_line_item_uid, quantity}])
    of the priced sale `source`: each returned line is the source line scaled
    by returned/sold quantity, rounded per component so its parts add up."""
    cur = source["total_money"]["currency"]
    by_uid = {li["uid"]: li for li in source["line_items"]}
    tax_by_uid = {t["uid"]: t for t in source.get("taxes", [])}
    ret_lines = []
    used_taxes, used_discounts = {}, {}
    for n, item in enumerate(items, 1):
        src = by_uid[item["source_line_item_uid"]]
        qty = Decimal(str(item.get("quantity", src["quantity"])))
        frac = qty / Decimal(src["quantity"])
        gross = _round(src["gross_sales_money"]["amount"] * frac)
        applied_d = []
        for a in src.get("applied_discounts", []):
            amt = _round(a["applied_money"]["amount"] * frac)
            # On a return, applied discounts/taxes reference the return's own
            # return_discounts / return_taxes entries (uid "<prefix>-<source uid>").
            applied_d.append({"uid": f"{uid_prefix}-ad{n}-{a['discount_uid']}",
                              "discount_uid": f"{uid_prefix}-{a['discount_uid']}",
                              "applied_money": money(amt, cur)})
            used_discounts[a["discount_uid"]] = used_discounts.get(a["discount_uid"], 0) + amt
        applied_t, additive = [], 0
        for a in src.get("applied_taxes", []):
            amt = _round(a["applied_money"]["amount"] * frac)
            applied_t.append({"uid": f"{uid_prefix}-at{n}-{a['tax_uid']}", "tax_uid": f"{uid_prefix}-{a['tax_uid']}",
                              "applied_money": money(amt, cur)})
            used_taxes[a["tax_uid"]] = used_taxes.get(a["tax_uid"], 0) + amt
            if tax_by_uid[a["tax_uid"]].get("type") != "INCLUSIVE":
                additive += amt
        disc = sum(a["applied_money"]["amount"] for a in applied_d)
        tax = sum(a["applied_money"]["amount"] for a in applied_t)
        ret_lines.append({
            "uid": f"{uid_prefix}-li{n}",
            "source_line_item_uid": src["uid"],
            "name": src.get("name"),
            "quantity": str(qty.normalize()) if qty == qty.to_integral() else str(qty),
            "catalog_object_id": src.get("catalog_object_id"),
            "variation_name": src.get("variation_name"),
            "item_type": src.get("item_type", "ITEM"),
            "base_price_money": dict(src["base_price_money"]),
            "variation_total_price_money": money(_round(src["variation_total_price_money"]["amount"] * frac), cur),
            "return_modifiers": [
                {"uid": f"{uid_prefix}-m{n}-{m['uid']}", "source_modifier_uid": m["uid"], "name": m.get("name"),
                 "base_price_money": dict(m["base_price_money"]),
                 "total_price_money": money(_round(m["total_price_money"]["amount"] * frac), cur),
                 "quantity": m.get("quantity", "1")}
                for m in src.get("modifiers", [])
            ],
            "applied_discounts": applied_d,
            "applied_taxes": applied_t,
            "applied_service_charges": [
                {"uid": f"{uid_prefix}-as{n}-{a['service_charge_uid']}",
                 "service_charge_uid": f"{uid_prefix}-{a['service_charge_uid']}",
                 "applied_money": money(_round(a["applied_money"]["amount"] * frac), cur)}
                for a in src.get("applied_service_charges", [])],
            "gross_return_money": money(gross, cur),
            "total_discount_money": money(disc, cur),
            "total_tax_money": money(tax, cur),
            "total_money": money(gross - disc + additive, cur),
        })
        ret_lines[-1]["total_service_charge_money"] = money(
            sum(a["applied_money"]["amount"] for a in ret_lines[-1]["applied_service_charges"]), cur)
    ret_charges, sc_total, sc_applied_total = [], 0, 0
    if include_service_charges:
        for sc in source.get("service_charges", []):
            ret_charges.append({
                "uid": f"{uid_prefix}-{sc['uid']}", "source_service_charge_uid": sc["uid"], "name": sc.get("name"),
                "percentage": sc.get("percentage"), "amount_money": sc.get("amount_money"),
                "applied_money": dict(sc["applied_money"]), "total_money": dict(sc["total_money"]),
                "total_tax_money": dict(sc["total_tax_money"]), "calculation_phase": sc.get("calculation_phase"),
                "taxable": sc.get("taxable", False), "treatment_type": sc.get("treatment_type"),
                "scope": sc.get("scope"),
                "applied_taxes": [dict(a, tax_uid=f"{uid_prefix}-{a['tax_uid']}") for a in sc.get("applied_taxes", [])],
            })
            if sc.get("calculation_phase") not in APPORTIONED_PHASES:  # else it is in the lines' totals
                sc_total += sc["total_money"]["amount"]
            sc_applied_total += sc["applied_money"]["amount"]
            for a in sc.get("applied_taxes", []):
                used_taxes[a["tax_uid"]] = used_taxes.get(a["tax_uid"], 0) + a["applied_money"]["amount"]
    tips = source.get("total_tip_money", money(0, cur))["amount"] if include_tips else 0
    ret_tips = []
    if tips:
        ret_tips = [{"uid": f"{uid_prefix}-tip", "applied_money": money(tips, cur),
                     "source_tender_uid": t.get("id")} for t in source.get("tenders", [])[:1]]
    total_tax = sum(used_taxes.values())
    lines_total = sum(li["total_money"]["amount"] for li in ret_lines)
    return {
        "uid": uid_prefix,
        "source_order_id": source["id"],
        "return_line_items": ret_lines,
        "return_service_charges": ret_charges,
        "return_taxes": [
            {"uid": f"{uid_prefix}-{t['uid']}", "source_tax_uid": t["uid"], "name": t.get("name"), "type": t.get("type"),
             "percentage": t.get("percentage"), "scope": t.get("scope"), "applied_money": money(used_taxes[t["uid"]], cur)}
            for t in source.get("taxes", []) if t["uid"] in used_taxes
        ],
        "return_discounts": [
            {"uid": f"{uid_prefix}-{d['uid']}", "source_discount_uid": d["uid"], "name": d.get("name"),
             "type": d.get("type"), "percentage": d.get("percentage"), "amount_money": d.get("amount_money"),
             "scope": d.get("scope"), "applied_money": money(used_discounts[d["uid"]], cur)}
            for d in source.get("discounts", []) if d["uid"] in used_discounts
        ],
        "return_tips": ret_tips,
        "return_amounts": {
            "total_money": money(lines_total + sc_total + tips, cur),
            "tax_money": money(total_tax, cur),
            "discount_money": money(sum(used_discounts.values()), cur),
            "tip_money": money(tips, cur),
            "service_charge_money": money(sc_applied_total, cur),
        },
    }
