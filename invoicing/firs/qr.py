"""The stamp as a QR code for the printed/rendered invoice (FIRS.md §2).

The QR holds the base64 stamp text as it is; implementers use error-correction
level H. segno builds it; this module only fixes the options.
"""
import io

import segno

ERROR_LEVEL = "h"
BORDER = 4  # the quiet zone the QR spec asks for


def make_qr(stamp: str) -> segno.QRCode:
    # boost_error=False: keep exactly level H (segno may otherwise raise it,
    # which is harmless but would make the level depend on the data size).
    return segno.make_qr(stamp, error=ERROR_LEVEL, boost_error=False)


def qr_png(stamp: str, *, scale: int = 4) -> bytes:
    out = io.BytesIO()
    make_qr(stamp).save(out, kind="png", scale=scale, border=BORDER)
    return out.getvalue()


def qr_svg(stamp: str, *, scale: int = 4) -> str:
    out = io.BytesIO()
    make_qr(stamp).save(out, kind="svg", scale=scale, border=BORDER, xmldecl=False)
    return out.getvalue().decode("utf-8")
