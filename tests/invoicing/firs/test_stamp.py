import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from invoicing.firs.stamp import (
    CryptoKeys,
    decrypt_stamp,
    generate_test_crypto_keys,
    load_crypto_keys,
    stamp_irn,
)
from taxpoynt.errors import ApplicationError


@pytest.fixture(scope="module")
def test_keys():
    return generate_test_crypto_keys()


def test_generated_key_file_has_the_dashboard_json_form(test_keys):
    data = json.loads(test_keys.crypto_keys_json)
    assert set(data) == {"public_key", "certificate"}
    assert base64.b64decode(data["public_key"]).startswith(b"-----BEGIN PUBLIC KEY-----")
    keys = load_crypto_keys(test_keys.crypto_keys_json)
    assert keys == test_keys.keys
    assert keys.public_key().key_size == 2048


def test_stamp_decrypts_to_the_exact_plaintext(test_keys):
    keys = load_crypto_keys(test_keys.crypto_keys_json)
    stamp = stamp_irn("INV001-94ND90NR-20240611", keys, timestamp=1731618237)
    assert len(base64.b64decode(stamp)) == 256  # one RSA-2048 block
    decrypted = decrypt_stamp(stamp, test_keys.private_key_pem)
    assert decrypted.plaintext == (
        '{"irn":"INV001-94ND90NR-20240611.1731618237","certificate":"' + keys.certificate + '"}'
    )
    assert (decrypted.irn, decrypted.timestamp, decrypted.certificate) == (
        "INV001-94ND90NR-20240611", 1731618237, keys.certificate)


def test_pkcs1v15_padding_is_random_but_both_decrypt(test_keys):
    a = stamp_irn("INV001-94ND90NR-20240611", test_keys.keys, timestamp=1)
    b = stamp_irn("INV001-94ND90NR-20240611", test_keys.keys, timestamp=1)
    assert a != b
    assert decrypt_stamp(a, test_keys.private_key_pem).plaintext == decrypt_stamp(b, test_keys.private_key_pem).plaintext


def test_default_timestamp_is_now(test_keys):
    before = int(time.time())
    decrypted = decrypt_stamp(stamp_irn("INV1-94ND90NR-20240611", test_keys.keys), test_keys.private_key_pem)
    assert before <= decrypted.timestamp <= int(time.time())


def test_another_key_cannot_read_the_stamp(test_keys):
    other = generate_test_crypto_keys()
    stamp = stamp_irn("INV1-94ND90NR-20240611", test_keys.keys, timestamp=1)
    with pytest.raises(ApplicationError, match="cannot be decrypted"):
        decrypt_stamp(stamp, other.private_key_pem)


def test_raw_pem_public_key_is_accepted(test_keys):
    text = json.dumps({"public_key": test_keys.keys.public_key_pem.decode(), "certificate": "abc="})
    assert load_crypto_keys(text) == CryptoKeys(test_keys.keys.public_key_pem, "abc=")


@pytest.mark.parametrize("text, message", [
    ("not json", "not JSON"),
    ("[1, 2]", "JSON object"),
    ('{"certificate": "abc="}', "lacks public_key"),
    ('{"public_key": "", "certificate": ""}', "lacks public_key, certificate"),
    ('{"public_key": "%%%not-base64%%%", "certificate": "abc="}', "not base64"),
    ('{"public_key": "aGVsbG8=", "certificate": "abc="}', "not a valid PEM public key"),
])
def test_bad_key_files_are_refused_clearly(text, message):
    with pytest.raises(ApplicationError, match=message):
        load_crypto_keys(text)


def test_non_rsa_key_is_refused():
    pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    text = json.dumps({"public_key": base64.b64encode(pem).decode(), "certificate": "abc="})
    with pytest.raises(ApplicationError, match="not an RSA key"):
        load_crypto_keys(text)


def test_plaintext_too_long_for_one_block_is_refused(test_keys):
    keys = CryptoKeys(test_keys.keys.public_key_pem, "A" * 300)
    with pytest.raises(ApplicationError, match="more than the 245"):
        stamp_irn("INV1-94ND90NR-20240611", keys, timestamp=1)


def test_a_key_file_is_read_once_per_text_and_its_key_loaded_once(test_keys):
    keys = load_crypto_keys(test_keys.crypto_keys_json)
    assert load_crypto_keys(test_keys.crypto_keys_json.encode()) is keys
    assert keys.public_key() is keys.public_key()
    # Another text (the same key, another certificate) is read afresh.
    other = json.dumps({**json.loads(test_keys.crypto_keys_json), "certificate": "abc="})
    assert load_crypto_keys(other) is not keys and load_crypto_keys(other).certificate == "abc="
    # A file that cannot be read is refused every time, not remembered as read.
    for _ in range(2):
        with pytest.raises(ApplicationError, match="not JSON"):
            load_crypto_keys("not json")
