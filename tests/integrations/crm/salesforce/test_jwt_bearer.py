"""The JWT bearer assertion's claims and signature."""
import time

import jwt
import pytest
from cryptography import x509

from integrations.crm.salesforce import facts
from integrations.crm.salesforce.jwt_bearer import build_assertion


def test_assertion_claims_and_rs256_signature(jwt_keys):
    key_pem, cert_pem = jwt_keys
    now = time.time()
    token = build_assertion(consumer_key="3MVG9-key", username="api@acme.example",
                            audience="https://login.salesforce.com/", private_key_pem=key_pem, now=now)
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    public_key = x509.load_pem_x509_certificate(cert_pem).public_key()
    claims = jwt.decode(token, public_key, algorithms=["RS256"], audience="https://login.salesforce.com")
    assert claims == {"iss": "3MVG9-key", "sub": "api@acme.example", "aud": "https://login.salesforce.com",
                      "exp": int(now) + facts.JWT_LIFETIME_SECONDS}
    assert facts.JWT_LIFETIME_SECONDS == 180


def test_assertion_signed_with_another_key_does_not_verify(jwt_keys, other_jwt_keys):
    token = build_assertion(consumer_key="k", username="u", audience="https://test.salesforce.com",
                            private_key_pem=other_jwt_keys[0].decode())
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, x509.load_pem_x509_certificate(jwt_keys[1]).public_key(), algorithms=["RS256"],
                   audience="https://test.salesforce.com")
