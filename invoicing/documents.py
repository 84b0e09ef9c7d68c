"""Renders a canonical invoice into its documents: totals, the UBL 2.1 XML and
the FIRS JSON payload, after every rule has been checked.

This is the one entry point services call (`render`, or `render_many` for a
batch, which gives each invoice what `render` would). It raises
`InvoiceRuleError` listing EVERY failed rule at once: the canonical business
rules (TP-nn), then the UBL 2.1 XSD and the fatal EN 16931 schematron asserts
of the built XML. The UBL is built and checked even when canonical rules fail,
as long as it can be built at all (an unknown tax category, say, has no UBL
code), so one round trip shows the caller everything.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from invoicing.canonical import CanonicalInvoice
from invoicing.firs.payload import build_firs_payload, payload_json
from invoicing.tax import Totals, compare_source_figures, compute_totals
from invoicing.ubl.builder import build_ubl
from invoicing.ubl.validator import schematron_violations, validate_ubl
from invoicing.validation import InvoiceRuleError, validate_canonical


@dataclass
class Rendered:
    totals: Totals
    ubl_xml: bytes
    firs_payload: dict  # amounts are Decimals: send `firs_json`
    source_mismatch: dict | None
    firs_json: bytes  # the payload serialised with exact numbers (invoicing.firs.payload.payload_json)


def render(inv: CanonicalInvoice, *, business_id: str, schematron: bool = True) -> Rendered:
    """`schematron=False` leaves out only the EN 16931 schematron (~1-2 ms);
    the freeze uses it for the final build after checking the same document
    with a provisional number (invoicing.services._freeze_all says why)."""
    outcome, = render_many([(inv, business_id)], schematron=schematron)
    if isinstance(outcome, InvoiceRuleError):
        raise outcome
    return outcome


def render_many(invoices: list[tuple[CanonicalInvoice, str]], *,
                schematron: bool = True) -> list[Rendered | InvoiceRuleError]:
    """`render` for several (invoice, FIRS business id): each one's Rendered,
    or the InvoiceRuleError `render` raises for it. The schematrons of the
    documents run one after another, after all are built: Saxon's native
    code then stays in the CPU's caches, and a document checked between other
    work costs ~1.7 times one checked in a run (docs/performance.md, session
    10). A batch of sales is frozen so."""
    built = [_built(inv) for inv, _ in invoices]
    checks = [validate_ubl(ubl_xml, schematron=False) if ubl_xml is not None else None
              for _, ubl_xml, _ in built]
    if schematron:
        for check, (_, ubl_xml, _) in zip(checks, built):
            if check == []:  # XSD-valid: the schematron's rules assume the structure
                check += schematron_violations(ubl_xml)
    outcomes = []
    for (inv, business_id), (violations, ubl_xml, totals), check in zip(invoices, built, checks):
        violations = violations + (check or [])
        if violations:
            outcomes.append(InvoiceRuleError(violations))
            continue
        payload = build_firs_payload(inv, totals, business_id=business_id)
        outcomes.append(Rendered(totals=totals, ubl_xml=ubl_xml, firs_payload=payload,
                                 source_mismatch=compare_source_figures(inv, totals),
                                 firs_json=payload_json(payload)))
    return outcomes


def _built(inv: CanonicalInvoice) -> tuple[list, bytes | None, Totals | None]:
    """(the canonical rules' violations, the UBL, the totals); no UBL when it
    cannot be built, which a valid invoice always can."""
    violations = validate_canonical(inv)
    try:
        totals = compute_totals(inv)
        return violations, build_ubl(inv, totals), totals
    except (KeyError, ValueError, ArithmeticError, TypeError, AttributeError):
        if not violations:
            raise  # a valid invoice that cannot be built is our bug, not the caller's
        return violations, None, None


def renumbered(rendered: Rendered, *, number: tuple[str, str], irn: tuple[str, str]) -> Rendered | None:
    """`rendered` with its (old, new) `number` and `irn` put in place of the
    old ones, without building it again: byte for byte what `render` gives
    for the invoice with the new number and IRN, whose documents differ only
    there (the UBL's `cbc:ID` and `cbc:UUID`, the payload's "irn").

    Each is replaced at its one structural place, never by a free search: the
    UBL's ID+UUID pair and the payload's `"irn":"…"` member must each occur
    exactly once, else None (the caller renders again). The rules read only
    that a number and an IRN are present, so the checks made on the old
    document hold for the new one."""
    (old_number, new_number), (old_irn, new_irn) = number, irn
    ubl_old = f"<cbc:ID>{old_number}</cbc:ID><cbc:UUID>{old_irn}</cbc:UUID>".encode()
    json_old = f'"irn":"{old_irn}"'.encode()
    if rendered.ubl_xml.count(ubl_old) != 1 or rendered.firs_json.count(json_old) != 1:
        return None
    ubl_new = f"<cbc:ID>{new_number}</cbc:ID><cbc:UUID>{new_irn}</cbc:UUID>".encode()
    return replace(rendered, ubl_xml=rendered.ubl_xml.replace(ubl_old, ubl_new),
                   firs_json=rendered.firs_json.replace(json_old, f'"irn":"{new_irn}"'.encode()),
                   firs_payload={**rendered.firs_payload, "irn": new_irn})
