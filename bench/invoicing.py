"""Benchmark of the invoice documents pipeline, one core.

Per invoice (10 lines, three tax categories, line and document allowances):
  build+XSD   canonical rules + totals + UBL build + UBL 2.1 XSD + FIRS payload JSON
  schematron  the EN 16931 schematron (compiled once, reused)
  stamp+QR    the FIRS stamp and its QR PNG (when invoicing/firs/stamp.py and qr.py exist)

    .venv/bin/python bench/invoicing.py --count 500
    .venv/bin/python bench/invoicing.py --seconds 20

Prints median and p99 per phase (ms), invoices/s, and ends with one JSON line.
"""
import argparse
import datetime
import importlib.util
import json
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taxpoynt.settings")

import django  # noqa: E402

django.setup()

from invoicing import canonical as c  # noqa: E402
from invoicing.firs.payload import build_firs_payload, payload_json  # noqa: E402
from invoicing.tax import compute_totals  # noqa: E402
from invoicing.ubl import validator  # noqa: E402
from invoicing.ubl.builder import build_ubl  # noqa: E402
from invoicing.validation import validate_canonical  # noqa: E402

BUSINESS_ID = "3f0f5a1e-8c2b-4a55-9c7e-2b8f3d1e6a10"
SERVICE_ID = "F3A3A0CF"


def ten_line_invoice(n: int) -> c.CanonicalInvoice:
    cats = [(c.STANDARD_VAT, Decimal("7.5"), ""), (c.ZERO_VAT, Decimal("0"), ""),
            (c.EXEMPTED, Decimal("0"), "Basic food item (VAT Act, First Schedule)")]
    lines = []
    for i in range(10):
        cat, rate, reason = cats[i % 3]
        acs = [c.AllowanceCharge(False, Decimal("12.50"), "Promo")] if i % 4 == 0 else []
        lines.append(c.Line(description=f"Item {i}", quantity=Decimal(i + 1), unit_price=Decimal("1999.99") + i,
                            tax_category=cat, tax_rate=rate, exemption_reason=reason, item_code=f"SKU-{i}",
                            classification_code="100630", allowance_charges=acs))
    issue = datetime.date(2026, 11, 2)
    number = f"INV{n:06d}"
    return c.CanonicalInvoice(
        kind=c.INVOICE, issue_date=issue, currency="NGN", number=number,
        irn=f"{number}-{SERVICE_ID}-{issue:%Y%m%d}",
        supplier=c.Party(name="Adaeze Foods Ltd", tin="12345678-0001", telephone="+2348012345678",
                         email="billing@adaezefoods.ng", street_name="12 Broad Street", city_name="Lagos"),
        customer=c.Party(name="Chukwu Retail Plc", tin="87654321-0001", email="ap@chukwuretail.ng",
                         city_name="Lagos"),
        lines=lines,
        allowance_charges=[c.AllowanceCharge(True, Decimal("500.00"), "Delivery"),
                           c.AllowanceCharge(False, Decimal("250.00"), "Loyalty")],
        payment_means=[c.PaymentMeans(code="48")], due_date=issue,
        source=c.SourceRef(system="bench", type="order", id=str(n)),
    )


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--count", type=int, help="invoices to process")
    group.add_argument("--seconds", type=float, help="run for this long")
    parser.add_argument("--no-stamp", action="store_true", help="skip the stamp and QR phase")
    args = parser.parse_args()
    count = args.count if args.count else (None if args.seconds else 300)

    stamping = not args.no_stamp and (importlib.util.find_spec("invoicing.firs.stamp") is not None
                and importlib.util.find_spec("invoicing.firs.qr") is not None)
    keys = None
    if stamping:
        from invoicing.firs.qr import qr_png
        from invoicing.firs.stamp import generate_test_crypto_keys, stamp_irn

        keys = generate_test_crypto_keys().keys

    t0 = time.perf_counter()
    warm = ten_line_invoice(0)
    warm_xml = build_ubl(warm, compute_totals(warm))
    assert validator.xsd_violations(warm_xml) == []
    xsd_compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert validator.schematron_violations(warm_xml) == []
    schematron_compile_s = time.perf_counter() - t0

    build_ms, schematron_ms, stamp_ms, total_ms, stamp_only_ms, qr_only_ms = [], [], [], [], [], []
    started = time.perf_counter()
    n = 0
    while True:
        if count is not None and n >= count:
            break
        if count is None and time.perf_counter() - started >= args.seconds:
            break
        n += 1
        inv = ten_line_invoice(n)
        a = time.perf_counter()
        assert validate_canonical(inv) == []
        totals = compute_totals(inv)
        xml = build_ubl(inv, totals)
        errors = validator.xsd_violations(xml)
        payload_json(build_firs_payload(inv, totals, business_id=BUSINESS_ID))
        b = time.perf_counter()
        errors += validator.schematron_violations(xml)
        s = time.perf_counter()
        q = s
        if stamping:
            stamp = stamp_irn(inv.irn, keys)
            q = time.perf_counter()
            qr_png(stamp)
        e = time.perf_counter()
        assert errors == [], errors
        build_ms.append((b - a) * 1000)
        schematron_ms.append((s - b) * 1000)
        stamp_ms.append((e - s) * 1000)
        stamp_only_ms.append((q - s) * 1000)
        qr_only_ms.append((e - q) * 1000)
        total_ms.append((e - a) * 1000)
    elapsed = time.perf_counter() - started

    def fig(values):
        return {"median_ms": round(statistics.median(values), 3), "p99_ms": round(pct(values, 0.99), 3)}

    result = {
        "invoices": n,
        "lines_per_invoice": 10,
        "build_xsd": fig(build_ms),
        "schematron": fig(schematron_ms),
        "stamp_qr": fig(stamp_ms) if stamping else None,
        "stamp_only": fig(stamp_only_ms) if stamping else None,
        "qr_png_only": fig(qr_only_ms) if stamping else None,
        "total": fig(total_ms),
        "invoices_per_s": round(n / elapsed, 1),
        "build_xsd_invoices_per_s": round(1000 / statistics.mean(build_ms), 1),
        "xsd_compile_s": round(xsd_compile_s, 3),
        "schematron_compile_s": round(schematron_compile_s, 3),
    }
    print(f"{n} invoices of 10 lines in {elapsed:.2f} s on one core")
    for name in ("build_xsd", "schematron", "stamp_qr", "stamp_only", "qr_png_only", "total"):
        if result[name]:
            print(f"  {name:<11} median {result[name]['median_ms']:8.3f} ms   p99 {result[name]['p99_ms']:8.3f} ms")
    print(f"  full pipeline: {result['invoices_per_s']} invoices/s; build+XSD alone: "
          f"{result['build_xsd_invoices_per_s']} invoices/s")
    print(f"  one-off compile: XSD {xsd_compile_s:.2f} s (with first build), schematron {schematron_compile_s:.2f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
