"""The one masking of recorded JSON bodies (taxpoynt/redaction.py), with the
two key sets that use it: the vendor exchange log's and the FIRS log's."""
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.connections.http import SECRET_KEYS as VENDOR_KEYS
from invoicing.firs.client import SECRET_KEYS as FIRS_KEYS
from taxpoynt.redaction import SecretKeys, masked, masked_json_prefix, redacted_json


def _oracle(value, keys):
    """Every secret key's (truthy) value masked, all the way down."""
    if isinstance(value, dict):
        return {k: keys.mask if v and keys.pattern.search(k) else _oracle(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_oracle(v, keys) for v in value]
    return value


PAGE = {"orders": [{"id": f"O{i}", "access_token": f"tok-{i}", "line_items": [
    {"name": "Jollof \u00e9 \"rice\"", "quantity": "2", "price": 1.5, "ok": True, "none": None}],
    "nested": {"client_secret": "", "refresh_token": ["x"], "Code": 7}} for i in range(300)],
    "cursor": "c1", "code": "auth-code"}


@pytest.mark.parametrize("limit", [1, 7, 60, 10_000, 200_000])
def test_the_prefix_is_the_masked_json_cut_at_the_limit(limit):
    expected = json.dumps(_oracle(PAGE, VENDOR_KEYS))
    assert len(expected) > 60_000
    assert masked_json_prefix(PAGE, VENDOR_KEYS, limit) == expected[:limit]
    assert "tok-" not in masked_json_prefix(PAGE, VENDOR_KEYS, 200_000)
    assert json.dumps(masked(PAGE, VENDOR_KEYS)) == expected


def test_a_body_is_kept_the_same_whichever_way_its_size_sends_it():
    small = {"orders": PAGE["orders"][:2], "code": "auth-code"}
    for document in (small, PAGE):
        text = json.dumps(document)
        assert redacted_json(text, VENDOR_KEYS, limit=20_000) == json.dumps(_oracle(document, VENDOR_KEYS))[:20_000]


def test_a_body_with_no_secret_is_kept_byte_for_byte_and_not_parsed():
    text = '{"irn":"INV1-94ND90NR-20240611",  "note": "caf\u00e9"}'
    assert redacted_json(text, FIRS_KEYS) == text
    assert redacted_json(text, VENDOR_KEYS, limit=12) == text[:12]
    # Not JSON at all, but nothing it holds could be a secret key: kept as is.
    assert redacted_json("not json", FIRS_KEYS) == "not json"
    # A screen hit in a value, not a key: parsed, nothing masked, kept byte for byte.
    assert redacted_json('{"note":  "a password hint"}', FIRS_KEYS) == '{"note":  "a password hint"}'
    assert redacted_json('{"password": oops', FIRS_KEYS) is None


def test_keys_are_found_in_any_case_and_through_json_escapes():
    assert redacted_json('{"a": [{"api_secret": "s"}]}', FIRS_KEYS) == '{"a": [{"api_secret": "********"}]}'
    assert redacted_json('{"PassWord": "s"}', FIRS_KEYS) == '{"PassWord": "********"}'
    assert redacted_json('{"\\u0070assword": "s"}', FIRS_KEYS) == '{"password": "********"}'
    assert redacted_json('{"X-Api-Key": "k"}', FIRS_KEYS) == '{"X-Api-Key": "********"}'
    # The FIRS set is exact names; the vendor set is words inside names.
    assert redacted_json('{"access_token": "t"}', FIRS_KEYS) == '{"access_token": "t"}'
    assert redacted_json('{"access_token": "t"}', VENDOR_KEYS) == '{"access_token": "***"}'
    assert redacted_json('{"Code": "c", "postal_code": "p"}', VENDOR_KEYS) == '{"Code": "***", "postal_code": "p"}'


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "note", "token", "Secret_Key", "password", "code", "Code", "x-api-key", "na\u00efve",
                         "api_key", "authorization"]), children, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize("keys", [VENDOR_KEYS, FIRS_KEYS], ids=["vendor", "firs"])
@given(document=json_values, ensure_ascii=st.booleans(), compact=st.booleans())
def test_the_record_is_the_masked_document_and_the_body_itself_when_nothing_is_masked(keys, document, ensure_ascii,
                                                                                      compact):
    text = json.dumps(document, ensure_ascii=ensure_ascii, separators=(",", ":") if compact else None)
    record = redacted_json(text, keys)
    expected = _oracle(document, keys)
    assert json.loads(record) == expected
    if expected == document:
        assert record == text


def test_a_key_set_is_its_pattern_words_and_mask():
    keys = SecretKeys(pattern=re.compile("pin", re.I), words=("pin",), mask="#")
    assert redacted_json('{"PIN": "1234", "pinned": false, "ok": 1}', keys) == '{"PIN": "#", "pinned": false, "ok": 1}'
    assert keys.is_secret("Spin") and not keys.is_secret("pan")
