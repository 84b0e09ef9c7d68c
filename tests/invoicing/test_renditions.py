"""Downloads of a frozen invoice: print HTML, PDF (with the IRN), XML, JSON, QR."""
import io
import json

import pytest
from lxml import etree
from pypdf import PdfReader

from invoicing import renditions
from taxpoynt.errors import ApplicationError
from tests.invoicing.test_services import create, firs, firs_org, make_canonical, process  # noqa: F401

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def confirmed(firs, firs_org, make_canonical):  # noqa: F811
    sub = process(create(firs_org, make_canonical()))
    assert sub.state == "confirmed", sub.error
    sub.invoice.refresh_from_db()
    return sub.invoice


@pytest.mark.django_db
def test_print_html_has_parties_lines_taxes_totals_irn_qr_and_status(confirmed):
    html = renditions.invoice_html(confirmed)
    for text in ("Adaeze Foods Ltd", "Chukwu Retail Plc", "Palm oil 5 L", "Baby formula", "ZERO_VAT",
                 "STANDARD_VAT", str(confirmed.payable_amount), str(confirmed.tax_amount), confirmed.irn,
                 confirmed.number, "Confirmed"):
        assert text in html, text
    assert 'src="data:image/png;base64,' in html


@pytest.mark.django_db
def test_pdf_contains_the_irn(confirmed):
    pdf = renditions.invoice_pdf(confirmed)
    assert pdf.content_type == "application/pdf" and pdf.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert confirmed.irn in text.replace("\n", "")
    assert "Chukwu Retail Plc" in text
    assert pdf.filename == f"{confirmed.number}.pdf"


@pytest.mark.django_db
def test_xml_json_and_qr(confirmed, firs):  # noqa: F811
    xml = renditions.invoice_xml(confirmed)
    assert xml.content_type == "application/xml"
    root = etree.fromstring(xml.content)
    ns = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}
    assert root.findtext("cbc:ID", namespaces=ns) == confirmed.number
    body = renditions.invoice_json(confirmed)
    assert body.content_type == "application/json"
    assert body.content == bytes(confirmed.submissions.get().signed_payload)
    assert json.loads(body.content)["irn"] == confirmed.irn
    qr = renditions.invoice_qr_png(confirmed)
    assert qr.content_type == "image/png" and qr.content.startswith(PNG_MAGIC)


@pytest.mark.django_db
def test_qr_decodes_to_the_stamp_that_firs_can_open(confirmed, firs):  # noqa: F811
    import zxingcpp
    from PIL import Image

    image = Image.open(io.BytesIO(renditions.invoice_qr_png(confirmed).content))
    decoded = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)  # no spurious linear hits
    assert [d.text for d in decoded] == [confirmed.stamp]
    assert firs.app.sandbox.verify_stamp(decoded[0].text)["irn"] == confirmed.irn


@pytest.mark.django_db
def test_draft_has_no_documents_yet(firs_org, make_canonical):  # noqa: F811
    draft = create(firs_org, make_canonical())
    for build in (renditions.invoice_xml, renditions.invoice_json, renditions.invoice_pdf,
                  renditions.invoice_qr_png):
        with pytest.raises(ApplicationError) as err:
            build(draft)
        assert err.value.code == "not_ready"
    assert "not yet issued" in renditions.invoice_html(draft)
