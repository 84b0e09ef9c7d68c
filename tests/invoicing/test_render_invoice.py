import json
import os
import subprocess
import sys
import uuid
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from lxml import etree

from tests.invoicing.fixtures import HERE, load

ROOT = Path(__file__).resolve().parents[2]
BUSINESS_ID = "3f0f5a1e-8c2b-4a55-9c7e-2b8f3d1e6a10"


def _run(*args):
    out, err = StringIO(), StringIO()
    call_command("render_invoice", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _write(tmp_path, data, name="in.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data, default=str))
    return str(path)


def test_writes_ubl_and_firs(tmp_path):
    ubl, firs = tmp_path / "o.xml", tmp_path / "o.json"
    out, err = _run(str(HERE / "invoice_b2b.json"), "--ubl", str(ubl), "--firs", str(firs),
                    "--business-id", BUSINESS_ID)
    assert "payable 62349.98 NGN" in out and err == ""
    assert etree.QName(etree.fromstring(ubl.read_bytes())).localname == "Invoice"
    payload = json.loads(firs.read_bytes(), parse_float=Decimal)
    assert payload["business_id"] == BUSINESS_ID
    assert payload["legal_monetary_total"]["payable_amount"] == Decimal("62349.98")


def test_invalid_input_lists_every_rule_and_returns_2(tmp_path):
    data = load()
    data["supplier"]["tin"] = "12"
    data["lines"][0]["quantity"] = "0"
    data["lines"][1]["tax_rate"] = "7.5"
    data["customer"]["telephone"] = "0803"
    err = StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("render_invoice", _write(tmp_path, data), stderr=err)
    assert exc.value.returncode == 2
    lines = [line.split("\t") for line in err.getvalue().strip().splitlines()]
    assert all(len(line) == 3 for line in lines)
    # The canonical rules first, with canonical paths ...
    assert [(rule, path) for rule, path, _ in lines[:4]] == [
        ("TP-02", "supplier.tin"), ("TP-04", "customer.telephone"),
        ("TP-08", "lines[0].quantity"), ("TP-06", "lines[1].tax_rate")]
    # ... then what EN 16931 says of the built UBL (a 7.5 % zero-rated breakdown), with XPath locations.
    assert {rule for rule, _, _ in lines[4:]} == {"BR-Z-09", "BR-Z-05"}
    assert all(path.startswith("/") for _, path, _ in lines[4:])
    assert f"{len(lines)} rule(s) failed" in str(exc.value)


def test_schema_problems_list_paths(tmp_path):
    data = load()
    del data["lines"][2]["quantity"]
    data["issue_date"] = "yesterday"
    err = StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("render_invoice", _write(tmp_path, data), stderr=err)
    assert exc.value.returncode == 2
    assert "TP-00\tlines[2].quantity\t" in err.getvalue()
    assert "TP-00\tissue_date\t" in err.getvalue()


def test_unreadable_file_returns_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for path in (str(bad), str(tmp_path / "missing.json")):
        with pytest.raises(CommandError) as exc:
            _run(path)
        assert exc.value.returncode == 2


def test_firs_output_needs_a_business_id(tmp_path):
    with pytest.raises(CommandError) as exc:
        _run(str(HERE / "invoice_b2b.json"), "--firs", str(tmp_path / "o.json"))
    assert exc.value.returncode == 2 and "business id" in str(exc.value)


def test_supplier_business_id_and_irn_from_the_organization(tmp_path, make_org):
    org = make_org(name="Org From DB", tin="99887766-0001", telephone="+2348000000001", city_name="Abuja",
                   email="billing@orgfromdb.ng",
                   firs_business_id=uuid.UUID("0e9d3c2a-1111-4c4c-8d8d-123456789abc"), firs_service_id="F3A3A0CF")
    data = load()
    data["irn"] = ""
    ubl, firs = tmp_path / "o.xml", tmp_path / "o.json"
    _run(_write(tmp_path, data), "--org", org.slug, "--ubl", str(ubl), "--firs", str(firs))
    payload = json.loads(firs.read_bytes())
    assert payload["business_id"] == "0e9d3c2a-1111-4c4c-8d8d-123456789abc"
    assert payload["accounting_supplier_party"]["party_name"] == "Org From DB"
    assert payload["accounting_supplier_party"]["tin"] == "99887766-0001"
    assert payload["irn"] == "INV000123-F3A3A0CF-20261102"
    assert b"<cbc:UUID>INV000123-F3A3A0CF-20261102</cbc:UUID>" in ubl.read_bytes()


def test_unknown_org_returns_2(db):
    with pytest.raises(CommandError) as exc:
        _run(str(HERE / "invoice_b2b.json"), "--org", "no-such-org")
    assert exc.value.returncode == 2


@pytest.mark.slow
def test_process_exit_status_is_2(tmp_path):
    """The real command line: stderr lists the rules, the process exits 2."""
    data = load()
    data["currency"] = "XYZ"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "taxpoynt.settings_test"}
    proc = subprocess.run([sys.executable, "manage.py", "render_invoice", _write(tmp_path, data)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "TP-01\tcurrency\t" in proc.stderr
    assert "BR-CL-04\t" in proc.stderr
    ok = subprocess.run([sys.executable, "manage.py", "render_invoice", str(HERE / "pos_b2c.json")],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
