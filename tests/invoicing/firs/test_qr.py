import io
from xml.etree import ElementTree

import zxingcpp
from PIL import Image

from invoicing.firs.qr import make_qr, qr_png, qr_svg
from invoicing.firs.stamp import generate_test_crypto_keys, stamp_irn


def _stamp():
    return stamp_irn("INV001-94ND90NR-20240611", generate_test_crypto_keys().keys, timestamp=1731618237)


def test_png_decodes_back_to_the_stamp():
    stamp = _stamp()
    png = qr_png(stamp)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # QR codes only: a linear-barcode pass now and then "finds" a short code
    # in the QR's modules (seen: a spurious "97" beside the stamp).
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert [r.text for r in results] == [stamp]
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode


def test_error_correction_is_level_h():
    qr = make_qr(_stamp())
    assert qr.error == "H"
    assert not qr.is_micro


def test_scale_changes_the_image_size():
    stamp = _stamp()
    small, big = Image.open(io.BytesIO(qr_png(stamp, scale=2))), Image.open(io.BytesIO(qr_png(stamp, scale=6)))
    assert big.size[0] == small.size[0] * 3


def test_svg_is_an_svg_document():
    svg = qr_svg(_stamp())
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "<path" in svg
