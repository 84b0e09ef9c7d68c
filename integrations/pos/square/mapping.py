"""Square order (sale) or return order (refund) → `CanonicalInvoice`.

Choices, and why:
- Money: Square's integer minor units → Decimal major units with the
  currency's ISO 4217 exponent (`constants.currency_exponent`; NGN has 2).
- Modifiers are folded into their line: the description lists them and the
  unit price is base price + Σ modifier price × modifier quantity. Square
  charges modifiers per unit of the line and discounts/taxes them with it, so
  one line keeps one tax category and the line's discounts apply to the whole.
- Taxes: the line's VAT is the one Square tax on it whose percentage maps
  to a category through `MappingOptions.tax_categories` (7.5 → STANDARD_VAT,
  0 → ZERO_VAT by default; a 0 % one beside a non-zero one is ignored). A
  line without a tax is `untaxed_category` (ZERO_VAT by default, with
  `zero_rated_reason`). A line with taxes none of which maps, or with more
  than one non-zero tax that maps, is refused: no one VAT category fits it.
- Levies: any other tax on a line (say Lagos State's 5 % Hotel Occupancy and
  Restaurant Consumption Tax beside 7.5 % VAT) is a non-VAT levy. FIRS
  e-invoicing is about VAT and EN 16931 knows only VAT categories, so by
  default (`levies="exclude"`) a levy is left off the invoice and its
  amounts (Square's `applied_money` of it on the lines and taxable service
  charges) are taken off Square's total tax and total in `source_figures`,
  as tips are; `levies="charge"` adds each levy as a ZERO_VAT document charge
  named after its Square tax ("Consumption Tax 5%") instead. Either way the
  line net is Square's (total_money − total_tax_money), net of every tax on
  the line: Square adds each ADDITIVE tax to the same discounted amount (its
  Orders API "Order Taxes" example: 5 % and 8.5 % on one item, not
  compounded) and takes INCLUSIVE taxes out together (`constants`).
- Tax-inclusive prices are converted to net: unit price × 100 / (100 + the
  sum of the line's inclusive rates) and each discount likewise, rounded
  half-even to the currency exponent.
  Whatever cent is left between that and Square's own net line amount
  (total_money − total_tax_money) becomes a line allowance/charge "Rounding
  (tax-inclusive price)", so the line net we send equals Square's. A gap
  larger than rounding can make (`_rounding_bound`) refuses the sale with
  its reason: a misread figure must not hide in a rounding charge.
- Discounts: LINE_ITEM-scoped ones are line allowances; ORDER-scoped ones are
  document allowances, one per tax category/rate (Square apportions them over
  the lines; we add up the apportioned amounts per category, EN 16931 BG-20).
- Service charges are document charges: taxable ones in the category of their
  tax, net of any inclusive tax; non-taxable ones in `untaxed_category`.
  Except apportioned ones (APPORTIONED_*_PHASE, APPORTIONED_TREATMENT, or
  any a line carries in `applied_service_charges`): Square puts each line's
  share in that line's gross sales, tax and total_money (the line's
  `total_service_charge_money`), so the share is a charge on its line, in the
  line's category, net of the line's inclusive tax; listed again on the
  document it would be invoiced twice. UNCONFIRMED: Square documents the
  phases as "before any tax considerations" but not whether a non-taxable
  apportioned charge escapes its line's tax; we tax it with its line (a
  difference would show as a tax mismatch).
- Tips are a gratuity for staff, not consideration for a supply: outside the
  scope of VAT. There is no "outside scope" category in our canonical model,
  so by default (`tips="exclude"`) they are left off the invoice and taken off
  Square's total in `source_figures`; `tips="charge"` adds them as a ZERO_VAT
  document charge instead.
- Gift cards: a line of item_type GIFT_CARD is the sale, activation or
  reload of a Square gift card (Orders API, OrderLineItemItemType). That is
  stored value, a means of payment whose goods or services are not yet
  chosen, not a supply of them: the supply (and its VAT) is the sale the card
  later pays for (a SQUARE_GIFT_CARD tender), invoiced then in full.
  Invoicing the card as well would invoice the same supply twice. So gift
  card lines are left off the invoice and their Square totals off
  `source_figures`; a sale of gift cards only is not invoiced at all
  (`sells_only_gift_cards`), nor credited when returned. UNCONFIRMED: no
  FIRS ruling on vouchers was read; this is the general VAT reading (a
  multi-purpose voucher is taxed on redemption), kept here only.
- Customer: B2C walk-in (None) unless the field map (connections.rules'
  one format) names the order metadata key holding the buyer's TIN,
  {"customer.tin": "metadata.<key>"}, and the order has one there: then a
  B2B Party (its name from "customer.name" likewise, else the customer's).
- Supplier is left empty: the invoicing core fills it from the Organization.
- `source_figures` carries Square's total_tax_money and total_money so the
  core flags any difference from its own totals.
- Returns give CREDIT_NOTEs; the caller fills `billing_reference` from the
  original sale's invoice. Square keeps a sale as it was and records what is
  taken back in another order's `returns`, one OrderReturn per original sale
  (`source_order_id`), with their rollup in `return_amounts` and
  `net_amounts` = sale − return (Orders API Order/OrderReturn; "Everything
  is an Order": "An exchange Order contains both a return from a previous
  sale as well as a new sale"). So an order is one of:
  a sale (line items only): an INVOICE;
  a return paid back by a refund (returns, no line items, `refunds`): its
  credit note comes from the refund, source the refund
  (`services.refund_ingest`), as a refund may be of an amount only;
  an exchange (returns and line items) or a return with no refund: the
  order itself is the source of the credit note of each sale it takes items
  back from (`credits_own_returns`, `return_source_id`), whether a refund
  for a difference exists or not, and an exchange's new items are an
  INVOICE of their own, checked against Square's figures of what the order
  sold, net_amounts + return_amounts (`_sold_amounts`), never against its
  net, which takes the returned items off.
  UNCONFIRMED (no Square page read says it): that a return paid back lists
  its refunds in the return order's `refunds` (the blog says the return
  order "contains the items that were returned as well as the refunds which
  were applied"), and whether an exchange's total_money is what it sold or
  the difference; `_sold_amounts` reads the documented identity, right
  either way.
- A return from several sales (a buyer bringing back items of two receipts
  at once): one return order, one OrderReturn per sale (Order.returns:
  "There is exactly one `Return` object per sale `Order` being
  referenced"). Money goes back by refund, and a refund is of one payment
  (PaymentRefund.payment_id; RefundPayment takes one `payment_id` and no
  items), so each sale's payment is refunded by a refund of its own. A
  refund credits the returns of the sale its payment paid for
  (Payment.order_id: "The ID of the order associated with the payment"),
  on that sale's invoice, and nothing else (`refunded_sale`); a return
  order of one sale needs no payment read. A refund of a payment none of
  the order's sales was paid with cannot be placed: refused.
  UNCONFIRMED (Square documents no return from several sales, and the
  Refunds API cannot make one): that each refund carries the return order
  as its `order_id`, as a one-sale return's refund does (PaymentRefund
  .order_id, "The ID of the order associated with the refund"; forum
  "Comprehensive order view via API": GetRefund's order_id is the return
  order, whose returns name the sale), and that each refund pays back its
  own sale's returns, not an amount spread over the sales.
"""
from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from invoicing.canonical import (
    CREDIT_NOTE,
    INVOICE,
    ZERO_VAT,
    AllowanceCharge,
    CanonicalInvoice,
    Line,
    Party,
    PaymentMeans,
    SourceFigures,
    SourceRef,
    STANDARD_VAT,
)
from integrations.connections.rules import field_map_read
from integrations.pos.square import constants
from taxpoynt.errors import ApplicationError

SYSTEM = "square"
RETURN_SOURCE_TYPE = "return"  # a credit note whose source is an order's returns (`return_source_id`)
ROUNDING_REASON = "Rounding (tax-inclusive price)"


class SquareMappingError(ApplicationError):
    pass


def _default_tax_categories() -> dict[Decimal, str]:
    return {Decimal("7.5"): STANDARD_VAT, Decimal("0"): ZERO_VAT}


@dataclass
class MappingOptions:
    tax_categories: dict[Decimal, str] = field(default_factory=_default_tax_categories)
    untaxed_category: str = ZERO_VAT
    untaxed_rate: Decimal = Decimal("7.5")  # when untaxed_category is STANDARD_VAT
    zero_rated_reason: str = "Zero-rated supply"
    exempt_reason: str = "VAT-exempt supply"
    tips: str = "exclude"  # or "charge"
    levies: str = "exclude"  # or "charge": Square taxes on a line other than its VAT
    timezone: str = "Africa/Lagos"
    unit_code: str = "EA"


class _Money:
    def __init__(self, currency: str):
        self.currency = currency
        try:
            self.exp = constants.currency_exponent(currency)
        except ValueError as exc:
            raise SquareMappingError(str(exc)) from None
        self.quantum = Decimal(1).scaleb(-self.exp)

    def major(self, minor) -> Decimal:
        """Minor units → major units, exactly (1500 kobo → Decimal("15.00"))."""
        return Decimal(minor).scaleb(-self.exp)

    def q(self, value: Decimal) -> Decimal:
        return value.quantize(self.quantum, rounding=ROUND_HALF_EVEN)

    def of(self, m: dict | None) -> int:
        if not m:
            return 0
        if m.get("currency") and m["currency"] != self.currency:
            raise SquareMappingError(f"Mixed currencies {m['currency']} / {self.currency} in one order.")
        return int(m.get("amount", 0))


def _vat_category(pct: Decimal, opts: MappingOptions) -> str | None:
    """The category a Square tax percentage maps to; None: not VAT (a levy)."""
    for rate, cat in opts.tax_categories.items():
        if Decimal(rate) == pct:
            return cat
    return None


def _category_for(pct: Decimal | None, opts: MappingOptions) -> tuple[str, Decimal]:
    if pct is None:
        cat = opts.untaxed_category
        return cat, Decimal("0") if cat != STANDARD_VAT else Decimal(opts.untaxed_rate)
    cat = _vat_category(pct, opts)
    if cat is None:
        raise SquareMappingError(f"Square tax rate {pct} % has no tax category mapping.", extra={"rate": str(pct)})
    return cat, pct


def _exemption_reason(cat: str, opts: MappingOptions) -> str:
    return {ZERO_VAT: opts.zero_rated_reason}.get(cat, opts.exempt_reason if cat != STANDARD_VAT else "")


@dataclass
class _LineTax:
    """A line's (or service charge's) Square taxes, read once."""

    pct: Decimal | None  # its VAT percentage; None: no tax at all
    inclusive_pct: Decimal | None  # Σ of its INCLUSIVE taxes' percentages (VAT and levies); None if none
    levies: list[tuple[dict, dict]]  # (Square tax, applied tax) of each non-VAT tax


def _line_tax(applied: list[dict], taxes: dict[str, dict], opts: MappingOptions) -> _LineTax:
    """Which of a line's applied taxes is its VAT (the one whose percentage
    maps to a category) and which are levies (see the module docstring)."""
    vat, levies, inclusive = [], [], Decimal(0)
    for a in applied or []:
        t = taxes.get(a.get("tax_uid"))
        if t is None:
            continue
        pct = Decimal(t.get("percentage") or "0")
        if t.get("type") == "INCLUSIVE":
            inclusive += pct
        if _vat_category(pct, opts) is not None:
            vat.append((pct, t))
        else:
            levies.append((t, a))
    if not vat and not levies:
        return _LineTax(None, None, [])
    nonzero = [(pct, t) for pct, t in vat if pct != 0]  # a 0 % one beside a rate is no second VAT
    if len(nonzero) > 1:
        names = [t.get("name") or t.get("uid") for _, t in nonzero]
        raise SquareMappingError(f"A Square line with more than one VAT tax ({', '.join(names)}) cannot be mapped "
                                 f"to one VAT category.", extra={"taxes": names})
    if not vat:
        rates = [str(Decimal(t.get("percentage") or "0")) for t, _ in levies]
        raise SquareMappingError(f"Square tax rate {' % + '.join(rates)} % has no tax category mapping: "
                                 f"a line needs one VAT tax.", extra={"rate": rates[0]})
    return _LineTax(nonzero[0][0] if nonzero else Decimal("0"), inclusive or None, levies)


def _add_levies(totals: "OrderedDict[str, list]", levies: list[tuple[dict, dict]], money: "_Money") -> None:
    """Add up each levy's Square amount (the applied tax's applied_money) by
    Square tax: totals[uid] = [reason, minor units]."""
    for t, a in levies:
        amount = money.of(a.get("applied_money"))
        if amount:
            entry = totals.setdefault(t.get("uid"), [f"{t.get('name') or 'Tax'} {t.get('percentage') or '0'}%", 0])
            entry[1] += amount


def _customer_party(customer: dict | None, attrs: dict | None, field_map: dict | None) -> Party | None:
    """The buyer: `attrs` is the order's metadata (a value may also come as
    a custom attribute's {"value": …}), read through the field map."""
    if not field_map or not attrs:
        return None  # B2C walk-in customer
    objects = {constants.FIELD_MAP_SOURCE: {k: v.get("value") if isinstance(v, dict) else v
                                            for k, v in attrs.items()}}
    tin = field_map_read(field_map, "customer.tin", objects)
    if not tin:
        return None  # B2C walk-in customer
    customer = customer or {}
    name = field_map_read(field_map, "customer.name", objects) or customer.get("company_name") or " ".join(
        p for p in (customer.get("given_name"), customer.get("family_name")) if p) or tin
    addr = customer.get("address") or {}
    return Party(name=name, tin=tin, email=customer.get("email_address", ""),
                 telephone=customer.get("phone_number", ""),
                 street_name=" ".join(p for p in (addr.get("address_line_1"), addr.get("address_line_2")) if p),
                 city_name=addr.get("locality", ""), postal_zone=addr.get("postal_code", ""),
                 country=addr.get("country", "NG") or "NG")


def _issue(order: dict, opts: MappingOptions) -> tuple[dt.date, dt.time]:
    stamp = order.get("closed_at") or order.get("updated_at") or order.get("created_at")
    if not stamp:
        raise SquareMappingError("The Square order has no timestamp.")
    t = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(ZoneInfo(opts.timezone))
    return t.date(), t.time().replace(microsecond=0)


def _description(name: str, variation: str | None, modifiers: list[dict]) -> str:
    text = name or "Item"
    if variation and variation.lower() not in ("regular", ""):
        text = f"{text}, {variation}"
    mods = [m.get("name") for m in modifiers if m.get("name")]
    if mods:
        text = f"{text} + {', '.join(mods)}"
    return text


def _unit_code(li: dict, default: str) -> str:
    unit = ((li.get("quantity_unit") or {}).get("measurement_unit")) or {}
    for key in ("weight_unit", "volume_unit", "length_unit", "generic_unit"):
        if unit.get(key) in constants.UNIT_CODES:
            return constants.UNIT_CODES[unit[key]]
    return default


def _net(amount_minor: int, inclusive_pct: Decimal | None) -> Decimal:
    if not inclusive_pct:
        return Decimal(amount_minor)
    return Decimal(amount_minor) * 100 / (100 + inclusive_pct)


def _is_gift_card(li: dict) -> bool:
    return li.get("item_type") == "GIFT_CARD"


def _only_gift_cards(items) -> bool:
    items = [li for li in items if Decimal(str(li.get("quantity") or "0")) > 0]
    return bool(items) and all(_is_gift_card(li) for li in items)


def sells_only_gift_cards(order: dict) -> bool:
    """A sale of Square gift cards and nothing else: no supply to invoice
    (see the module docstring)."""
    return _only_gift_cards(order.get("line_items") or [])


def _returns(order: dict, source_order_id: str | None = None) -> list[dict]:
    """The order's OrderReturns; only those of the sale `source_order_id` if given."""
    return [ret for ret in order.get("returns") or []
            if source_order_id is None or ret.get("source_order_id") == source_order_id]


def returns_only_gift_cards(return_order: dict, source_order_id: str | None = None) -> bool:
    """A return of Square gift cards and nothing else (of the sale
    `source_order_id`, if given): nothing was invoiced for them, so there is
    nothing to credit."""
    return _only_gift_cards([li for ret in _returns(return_order, source_order_id)
                             for li in ret.get("return_line_items") or []])


def _gift_card_totals(items, money: "_Money") -> tuple[int, int]:
    """(total, tax) in minor units of the gift card lines among `items`."""
    cards = [li for li in items or [] if _is_gift_card(li)]
    return (sum(money.of(li.get("total_money")) for li in cards),
            sum(money.of(li.get("total_tax_money")) for li in cards))


_APPORTIONED_PHASES = ("APPORTIONED_PERCENTAGE_PHASE", "APPORTIONED_AMOUNT_PHASE")


def _apportioned_charge_uids(charges: list[dict], items: list[dict]) -> set[str]:
    """The service charges Square apportioned to line items: their money is
    in the lines' totals (see the module docstring)."""
    uids = {sc.get("uid") for sc in charges or [] if sc.get("calculation_phase") in _APPORTIONED_PHASES
            or sc.get("treatment_type") == "APPORTIONED_TREATMENT"}
    uids |= {a.get("service_charge_uid") for li in items or [] for a in li.get("applied_service_charges") or []}
    return uids - {None}


_UNTAXED = _LineTax(None, None, [])


def _rounding_bound(qty: Decimal, allowances: int, money: "_Money") -> Decimal:
    """The most a line's "Rounding" charge may take up: each unit's net
    price, each allowance and Square's own figures are rounded to half a
    minor unit at most; twice that, so only a gap no rounding explains (a
    figure the mapping misreads) refuses the sale instead of hiding in it."""
    return money.quantum * (qty.to_integral_value(rounding=ROUND_CEILING) + allowances + 2)


def _build_lines(items, *, money: _Money, taxes: dict, discounts: dict, charges: dict, opts: MappingOptions,
                 is_return: bool, levies: "OrderedDict[str, list]"):
    """Lines plus per-category order-discount totals (major units).
    `charges` are the order's service charges by uid (for the names of the
    apportioned ones the lines carry); the lines' levies are added to
    `levies` (`_add_levies`)."""
    lines: list[Line] = []
    doc_allowances: "OrderedDict[tuple[str, Decimal], list]" = OrderedDict()
    for li in items:
        qty = Decimal(str(li["quantity"]))
        if qty <= 0 or _is_gift_card(li):
            continue
        modifiers = li.get("return_modifiers" if is_return else "modifiers") or []
        line_tax = _line_tax(li.get("applied_taxes"), taxes, opts)
        cat, rate = _category_for(line_tax.pct, opts)
        incl_pct = line_tax.inclusive_pct
        _add_levies(levies, line_tax.levies, money)
        base = money.of(li.get("base_price_money"))
        unit_minor = Decimal(base) + sum(
            Decimal(money.of(m.get("base_price_money"))) * Decimal(str(m.get("quantity") or "1")) for m in modifiers)
        line_allowances: list[AllowanceCharge] = []
        line_disc = order_disc = 0
        order_disc_names = []
        for a in li.get("applied_discounts") or []:
            d = discounts.get(a.get("discount_uid"), {})
            amt = money.of(a.get("applied_money"))
            if not amt:
                continue
            if d.get("scope") == "ORDER":
                order_disc += amt
                order_disc_names.append(d.get("name") or "Discount")
            else:
                line_disc += amt
                line_allowances.append(AllowanceCharge(
                    charge_indicator=False, amount=money.q(money.major(_net(amt, incl_pct))),
                    reason=d.get("name") or "Discount", tax_category=cat, tax_rate=rate))
        for a in li.get("applied_service_charges") or []:
            amt = money.of(a.get("applied_money"))
            if amt:
                line_allowances.append(AllowanceCharge(
                    charge_indicator=True, amount=money.q(money.major(_net(amt, incl_pct))),
                    reason=charges.get(a.get("service_charge_uid"), {}).get("name") or "Service charge",
                    tax_category=cat, tax_rate=rate))
        unit_price = money.q(money.major(_net(unit_minor, incl_pct))) if incl_pct else money.major(unit_minor)
        total = money.of(li.get("total_money"))
        tax = money.of(li.get("total_tax_money"))
        square_net = money.major(total - tax)
        order_disc_net = money.q(money.major(_net(order_disc, incl_pct)))
        ours = (qty * unit_price).quantize(money.quantum, rounding=ROUND_HALF_UP) + sum(
            (a.amount if a.charge_indicator else -a.amount for a in line_allowances), Decimal(0))
        residual = square_net + order_disc_net - ours
        if abs(residual) > _rounding_bound(qty, len(line_allowances), money):
            raise SquareMappingError(
                f"Square's net amount of line {li.get('name') or li.get('uid')!r} ({square_net}) and ours "
                f"({ours - order_disc_net}) differ by {abs(residual)}, more than rounding explains: an order shape "
                f"the mapping does not know.", extra={"line_uid": li.get("uid"), "difference": str(residual)})
        if residual:
            line_allowances.append(AllowanceCharge(charge_indicator=residual > 0, amount=abs(residual),
                                                   reason=ROUNDING_REASON, tax_category=cat, tax_rate=rate))
        lines.append(Line(
            description=_description(li.get("name") or "", li.get("variation_name"), modifiers),
            quantity=qty, unit_price=unit_price, tax_category=cat, tax_rate=rate,
            item_code=li.get("catalog_object_id") or "", unit_code=_unit_code(li, opts.unit_code),
            allowance_charges=line_allowances, exemption_reason=_exemption_reason(cat, opts)))
        if order_disc_net:
            bucket = doc_allowances.setdefault((cat, rate), [Decimal(0), []])
            bucket[0] += order_disc_net
            bucket[1].extend(n for n in order_disc_names if n not in bucket[1])
    allowances = [AllowanceCharge(charge_indicator=False, amount=amount, reason=", ".join(names),
                                  tax_category=cat, tax_rate=rate)
                  for (cat, rate), (amount, names) in doc_allowances.items()]
    return lines, allowances


def _service_charges(charges, *, money: _Money, taxes: dict, opts: MappingOptions,
                     apportioned: set[str], levies: "OrderedDict[str, list]") -> list[AllowanceCharge]:
    """The document charges: every service charge but the apportioned ones
    (charges on their lines, `_build_lines`); their levies are added to
    `levies`."""
    out = []
    for sc in charges or []:
        if sc.get("uid") in apportioned:
            continue
        total = money.of(sc.get("total_money")) or money.of(sc.get("applied_money"))
        tax = money.of(sc.get("total_tax_money"))
        if not total:
            continue
        line_tax = _line_tax(sc.get("applied_taxes"), taxes, opts) if sc.get("taxable") else _UNTAXED
        cat, rate = _category_for(line_tax.pct, opts)
        _add_levies(levies, line_tax.levies, money)
        out.append(AllowanceCharge(charge_indicator=True, amount=money.major(total - tax),
                                   reason=sc.get("name") or "Service charge", tax_category=cat, tax_rate=rate))
    return out


def _tip_charge(tip_minor: int, money: _Money, opts: MappingOptions) -> list[AllowanceCharge]:
    if not tip_minor or opts.tips != "charge":
        return []
    return [AllowanceCharge(charge_indicator=True, amount=money.major(tip_minor), reason="Tip",
                            tax_category=ZERO_VAT, tax_rate=Decimal("0"))]


def _levies_total(levies: "OrderedDict[str, list]") -> int:
    return sum(amount for _, amount in levies.values())


def _levy_charges(levies: "OrderedDict[str, list]", money: _Money, opts: MappingOptions) -> list[AllowanceCharge]:
    if opts.levies != "charge":
        return []
    return [AllowanceCharge(charge_indicator=True, amount=money.major(amount), reason=reason,
                            tax_category=ZERO_VAT, tax_rate=Decimal("0"))
            for reason, amount in levies.values()]


def _document_parts(items, service_charges, *, money: _Money, taxes: dict, discounts: dict, opts: MappingOptions,
                    is_return: bool, tip: int, tax: int, total: int, tip_in_total: bool):
    """A sale's (or one return's) lines, allowances and charges, and Square's
    tax and total (minor units) less what the invoice leaves off: gift
    cards, and tips and levies unless they are charged (the module
    docstring). `tip_in_total`: Square's total includes the tip."""
    levies: "OrderedDict[str, list]" = OrderedDict()
    lines, allowances = _build_lines(items, money=money, taxes=taxes, discounts=discounts,
                                     charges={sc.get("uid"): sc for sc in service_charges}, opts=opts,
                                     is_return=is_return, levies=levies)
    charges = _service_charges(service_charges, money=money, taxes=taxes, opts=opts,
                               apportioned=_apportioned_charge_uids(service_charges, items), levies=levies)
    charges += _tip_charge(tip, money, opts) + _levy_charges(levies, money, opts)
    cards_total, cards_tax = _gift_card_totals(items, money)
    levies_tax = _levies_total(levies)
    left_off = (cards_total + (levies_tax if opts.levies != "charge" else 0)
                + (tip if opts.tips != "charge" and tip_in_total else 0))
    return lines, allowances, charges, tax - cards_tax - levies_tax, total - left_off


def _payment_means(types: list[str]) -> list[PaymentMeans]:
    codes = []
    for t in types:
        code = constants.PAYMENT_MEANS_CODES.get(t or "", "ZZZ")
        if code not in codes:
            codes.append(code)
    return [PaymentMeans(code=c) for c in codes]


def is_return_order(order: dict) -> bool:
    """A return: an order of its own, COMPLETED, with `returns` and no line
    items (a refund's, or a return with no refund). It is no sale: nothing
    of it is invoiced (see `credits_own_returns` for its credit note)."""
    return bool(order.get("returns")) and not order.get("line_items")


def credits_own_returns(order: dict) -> bool:
    """Whether the order itself is the source of the credit notes of the
    items it takes back: an exchange (returns beside new line items, paid
    even, or the difference paid or refunded), or a return no refund pays
    back. A return with refunds is credited from them (module docstring)."""
    return bool(order.get("returns")) and (bool(order.get("line_items")) or not order.get("refunds"))


def returned_sales(order: dict) -> list[str]:
    """The sales (order ids) the order takes items back from, in order. An
    unlinked return (no `source_order_id`: items taken back without their
    sale) has no invoice to credit: refused."""
    ids = []
    for ret in order.get("returns") or []:
        if not ret.get("source_order_id"):
            raise SquareMappingError("A Square return names no original sale (an unlinked return): there is no "
                                     "invoice to credit.", extra={"order_id": order.get("id")})
        if ret["source_order_id"] not in ids:
            ids.append(ret["source_order_id"])
    return ids


def refunded_sale(return_order: dict, payment_order_id: str | None = None) -> str:
    """The sale (order id) whose returns a refund of `return_order` pays
    back: the order's only sale; of several, the refunded payment's order
    (`payment_order_id`, Payment.order_id), which must be one of them
    (module docstring). SquareMappingError otherwise, and for an unlinked
    return (`returned_sales`)."""
    sales = returned_sales(return_order)
    if len(sales) == 1:
        return sales[0]
    if payment_order_id in sales:
        return payment_order_id
    raise SquareMappingError(
        f"The Square return order takes items back from {len(sales)} sales and the refund's payment paid for none "
        f"of them ({payment_order_id or 'no order'}): which returns it pays back is not known.",
        extra={"order_id": return_order.get("id"), "payment_order_id": payment_order_id})


def return_source_id(order_id: str, source_order_id: str) -> str:
    """The source id of the credit note of what order `order_id` takes back
    from sale `source_order_id` (source type "return"): one per pair, so
    the order's events, its refund's, retries and the end of day make it once."""
    return f"{order_id}:{source_order_id}"


def _sold_amounts(order: dict) -> dict:
    """Square's amounts (OrderMoneyAmounts keys: total_money, tax_money,
    tip_money) of what `order` itself sold. An exchange's net_amounts take off
    the items it takes back (net = sale − return), so what it sold is
    net_amounts + return_amounts; any other order's are its totals."""
    net, ret = order.get("net_amounts"), order.get("return_amounts")
    if order.get("returns") and net and ret:
        currency = (net.get("total_money") or {}).get("currency")
        return {k: {"amount": int((net.get(k) or {}).get("amount", 0)) + int((ret.get(k) or {}).get("amount", 0)),
                    "currency": currency} for k in ("total_money", "tax_money", "tip_money")}
    return {"total_money": order.get("total_money"), "tax_money": order.get("total_tax_money"),
            "tip_money": order.get("total_tip_money")}


def order_to_canonical(order: dict, *, field_map: dict | None = None, customer: dict | None = None,
                       customer_attributes: dict | None = None, options: MappingOptions | None = None
                       ) -> CanonicalInvoice:
    """A completed Square sale → an INVOICE."""
    opts = options or MappingOptions()
    if not order.get("line_items"):
        raise SquareMappingError("The Square order has no line items.", extra={"order_id": order.get("id")})
    currency = (order.get("total_money") or order["line_items"][0]["base_price_money"])["currency"]
    money = _Money(currency)
    taxes = {t["uid"]: t for t in order.get("taxes") or []}
    discounts = {d["uid"]: d for d in order.get("discounts") or []}
    sold = _sold_amounts(order)  # an exchange's new items only: its returns are credited on their own sales
    lines, allowances, charges, tax_total, payable = _document_parts(
        order["line_items"], order.get("service_charges") or [], money=money, taxes=taxes, discounts=discounts,
        opts=opts, is_return=False, tip=money.of(sold["tip_money"]), tax=money.of(sold["tax_money"]),
        total=money.of(sold["total_money"]), tip_in_total=constants.TOTAL_INCLUDES_TIPS)
    if not lines:
        raise SquareMappingError("The Square order has no line item with a quantity other than gift cards "
                                 "(a gift card is invoiced when it is redeemed).", extra={"order_id": order.get("id")})
    issue_date, issue_time = _issue(order, opts)
    return CanonicalInvoice(
        kind=INVOICE, issue_date=issue_date, issue_time=issue_time, currency=currency,
        supplier=Party(name=""), customer=_customer_party(customer, customer_attributes, field_map),
        lines=lines, allowance_charges=allowances + charges,
        payment_means=_payment_means([t.get("type") for t in order.get("tenders") or []]),
        source=SourceRef(system=SYSTEM, type="order", id=order["id"]),
        buyer_reference=order.get("reference_id") or "",
        source_figures=SourceFigures(tax_amount=money.major(tax_total), payable_amount=money.major(payable)),
    )


def return_to_canonical(return_order: dict, *, refund: dict | None = None, source_order_id: str | None = None,
                        field_map: dict | None = None, customer: dict | None = None,
                        customer_attributes: dict | None = None, options: MappingOptions | None = None
                        ) -> CanonicalInvoice:
    """The items a Square order takes back → a CREDIT_NOTE: those of sale
    `source_order_id` (all of them if None). Its source is the `refund` when
    one pays them back (a return order, the refund's `order_id`), else the
    order and the sale (`return_source_id`: an exchange, a return with no
    refund). `billing_reference` is left for the caller (the original
    invoice)."""
    opts = options or MappingOptions()
    returns = _returns(return_order, source_order_id)
    if not returns:
        raise SquareMappingError("The Square order has no returns.", extra={"order_id": return_order.get("id")})
    first_money = (return_order.get("return_amounts") or {}).get("total_money") or \
        returns[0]["return_line_items"][0]["base_price_money"]
    money = _Money(first_money["currency"])
    lines, allowances, charges = [], [], []
    tax_total = payable = 0
    for ret in returns:
        taxes = {t["uid"]: t for t in ret.get("return_taxes") or []}
        discounts = {d["uid"]: d for d in ret.get("return_discounts") or []}
        amounts = ret.get("return_amounts") or {}
        tip = money.of(amounts.get("tip_money")) or sum(money.of(t.get("applied_money")) for t in ret.get("return_tips") or [])
        ls, al, ch, tax, total = _document_parts(
            ret.get("return_line_items") or [], ret.get("return_service_charges") or [], money=money, taxes=taxes,
            discounts=discounts, opts=opts, is_return=True, tip=tip, tax=money.of(amounts.get("tax_money")),
            total=money.of(amounts.get("total_money")), tip_in_total=True)
        lines += ls
        allowances += al
        charges += ch
        tax_total += tax
        payable += total
    if not lines:
        raise SquareMappingError("The Square return has no returned line items.")
    issue_date, issue_time = _issue(return_order, opts)
    if refund:
        source = SourceRef(system=SYSTEM, type="refund", id=refund["id"])
    else:
        source = SourceRef(system=SYSTEM, type=RETURN_SOURCE_TYPE, id=return_source_id(
            return_order["id"], source_order_id or returns[0].get("source_order_id") or ""))
    return CanonicalInvoice(
        kind=CREDIT_NOTE, issue_date=issue_date, issue_time=issue_time, currency=money.currency,
        supplier=Party(name=""), customer=_customer_party(customer, customer_attributes, field_map),
        lines=lines, allowance_charges=allowances + charges,
        payment_means=_payment_means([(refund or {}).get("destination_type") or ""]) if refund else [],
        source=source,
        note=(refund or {}).get("reason") or "",
        source_figures=SourceFigures(tax_amount=money.major(tax_total), payable_amount=money.major(payable)),
    )


@dataclass(frozen=True)
class OrderFigures:
    """What the POS Transaction row keeps of a Square order (Decimal, major units)."""

    order_id: str
    location_id: str
    state: str  # Square's OPEN | COMPLETED | CANCELED | DRAFT
    occurred_at: dt.datetime  # closed_at, else created_at (UTC)
    currency: str
    # net of returns (net_amounts), tips included as Square counts them; an
    # exchange's: what it sold (its returns are of other sales, `_sold_amounts`)
    total_amount: Decimal
    tax_amount: Decimal
    tip_amount: Decimal
    refunded: bool  # any refund; wholly when nothing is left of the total (net of returns). Never an exchange

    @property
    def wholly_refunded(self) -> bool:
        return self.refunded and self.total_amount <= 0


def order_figures(order: dict) -> OrderFigures:
    exchange = bool(order.get("returns"))
    amounts = _sold_amounts(order) if exchange else order.get("net_amounts") or {}
    total = amounts.get("total_money") or order.get("total_money") or {"amount": 0, "currency": "NGN"}
    money = _Money(total.get("currency") or "NGN")
    stamp = order.get("closed_at") or order.get("created_at")
    return OrderFigures(
        order_id=order["id"], location_id=order.get("location_id", ""), state=order.get("state", ""),
        occurred_at=dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None,
        currency=money.currency, total_amount=money.major(money.of(total)),
        tax_amount=money.major(money.of(amounts.get("tax_money") or order.get("total_tax_money"))),
        tip_amount=money.major(money.of(amounts.get("tip_money") or order.get("total_tip_money"))),
        # an exchange's refund pays back the items it takes back, not its sale
        refunded=bool(order.get("refunds")) and not exchange,
    )
