"""`python manage.py render_invoice FILE.json [--ubl OUT.xml] [--firs OUT.json] [--org SLUG]`

Reads one canonical invoice (docs/canonical-invoice.md), checks every rule
(canonical, UBL 2.1 XSD, EN 16931 schematron) and writes the UBL XML and the
FIRS JSON payload. With `--org`, the supplier party, the FIRS business id and
(when the file has a number but no IRN) the IRN come from that organization.

Invalid input prints every failed rule on stderr, one per line as
`RULE<TAB>PATH<TAB>MESSAGE`, and exits with status 2.
"""
import json
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from invoicing.canonical import canonical_from_dict
from invoicing.documents import render
from invoicing.validation import InvoiceRuleError
from taxpoynt.errors import ApplicationError

INVALID = 2


def _org_supplier(org) -> dict:
    return {
        "name": org.name, "tin": org.tin, "email": org.email, "telephone": org.telephone,
        "street_name": org.street_name, "city_name": org.city_name, "postal_zone": org.postal_zone,
        "country": org.country,
    }


class Command(BaseCommand):
    help = "Render one canonical invoice JSON file into UBL 2.1 XML and the FIRS JSON payload."

    def add_arguments(self, parser):
        parser.add_argument("file", help="canonical invoice JSON")
        parser.add_argument("--ubl", help="write the UBL 2.1 XML here")
        parser.add_argument("--firs", help="write the FIRS JSON payload here")
        parser.add_argument("--org", help="organization slug: supplier, FIRS business id and IRN service id")
        parser.add_argument("--business-id", default="", help="FIRS business id (when no --org gives one)")

    def handle(self, *args, **opts):
        try:
            data = json.loads(Path(opts["file"]).read_text(encoding="utf-8"), parse_float=Decimal)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {opts['file']}: {exc}", returncode=INVALID) from exc

        business_id = opts["business_id"]
        service_id = ""
        if opts["org"]:
            from taxpoynt.tenancy.models import Organization

            org = Organization.objects.filter(slug=opts["org"]).first()
            if org is None:
                raise CommandError(f"no organization with slug {opts['org']!r}", returncode=INVALID)
            if isinstance(data, dict):
                data["supplier"] = _org_supplier(org)
            business_id = business_id or (str(org.firs_business_id) if org.firs_business_id else "")
            service_id = org.firs_service_id or ""

        try:
            inv = canonical_from_dict(data)
            if service_id and inv.number and not inv.irn:
                from invoicing.firs.irn import build_irn

                inv.irn = build_irn(invoice_number=inv.number, service_id=service_id, issue_date=inv.issue_date)
            rendered = render(inv, business_id=business_id)
        except InvoiceRuleError as exc:
            for v in exc.violations:
                self.stderr.write(f"{v.rule}\t{v.path}\t{v.message}")
            raise CommandError(f"{len(exc.violations)} rule(s) failed", returncode=INVALID) from exc
        except ApplicationError as exc:
            raise CommandError(exc.message, returncode=INVALID) from exc

        if opts["firs"] and not business_id:
            raise CommandError("the FIRS payload needs a business id: --org with one, or --business-id",
                               returncode=INVALID)
        if opts["ubl"]:
            Path(opts["ubl"]).write_bytes(rendered.ubl_xml)
        if opts["firs"]:
            Path(opts["firs"]).write_bytes(rendered.firs_json)
        if rendered.source_mismatch:
            self.stderr.write(f"warning: the source's figures differ from ours: "
                              f"{json.dumps(rendered.source_mismatch)}")
        t = rendered.totals
        self.stdout.write(
            f"valid {inv.kind} {inv.number or inv.source.id}: line extension {t.line_extension_amount}, "
            f"tax {t.tax_amount}, payable {t.payable_amount} {inv.currency}")
