"""The FIRS cryptographic stamp (FIRS.md §2).

The taxpayer's dashboard issues ``crypto_keys.txt``: an RSA public key and an
opaque base64 "certificate", read here in its JSON form
``{"public_key": base64(PEM), "certificate": "<base64>"}``. The stamp is the
JSON ``{"irn": "<IRN>.<unix_seconds>", "certificate": "<certificate>"}``
encrypted with that public key (RSA PKCS#1 v1.5, UNCONFIRMED: see
`codes.STAMP_PADDING`) and base64-encoded; it is what the QR code carries.
This is encryption, not a signature: only FIRS (or our sandbox, which keeps
the private key) can read it back, with `decrypt_stamp`.

`generate_test_crypto_keys` issues a key pair and certificate in the same JSON
form for the sandbox, the demo and the tests.
"""
import base64
import binascii
import functools
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from taxpoynt.errors import ApplicationError

from . import codes

PKCS1V15_OVERHEAD = 11  # bytes of padding PKCS#1 v1.5 needs per block


@dataclass(frozen=True)
class CryptoKeys:
    public_key_pem: bytes
    certificate: str

    @functools.cached_property
    def _public_key(self) -> rsa.RSAPublicKey:
        return _load_public_key(self.public_key_pem)

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public_key


@dataclass(frozen=True)
class TestCryptoKeys:
    """A generated key file plus the private half FIRS would keep."""

    crypto_keys_json: str
    private_key_pem: bytes
    keys: CryptoKeys


@dataclass(frozen=True)
class DecryptedStamp:
    plaintext: str
    irn: str
    timestamp: int
    certificate: str


def _load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ApplicationError(f"The FIRS public key is not a valid PEM public key ({exc}).", code="invalid_keys") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ApplicationError("The FIRS public key is not an RSA key.", code="invalid_keys")
    return key


def load_crypto_keys(text: str | bytes) -> CryptoKeys:
    """Read the crypto_keys JSON issued by the FIRS dashboard.

    Every invoice frozen reads its organization's key file, so each process
    keeps what it read (and the key loaded from it, `CryptoKeys.public_key`)
    per file text: a new key file is new text, read afresh. A file that
    cannot be read raises each time."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return _read_crypto_keys(text)


@functools.lru_cache(maxsize=1024)
def _read_crypto_keys(text: str) -> CryptoKeys:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        raise ApplicationError(
            'The FIRS key file is not JSON; expected {"public_key": "<base64 PEM>", "certificate": "<base64>"}.',
            code="invalid_keys",
        ) from None
    if not isinstance(data, dict):
        raise ApplicationError("The FIRS key file must be a JSON object.", code="invalid_keys")
    missing = [name for name in ("public_key", "certificate") if not isinstance(data.get(name), str) or not data[name].strip()]
    if missing:
        raise ApplicationError(f"The FIRS key file lacks {', '.join(missing)}.", code="invalid_keys")
    public_key = data["public_key"].strip()
    if public_key.startswith("-----BEGIN"):
        # Some integrators paste the PEM itself rather than its base64.
        pem = public_key.encode()
    else:
        try:
            pem = base64.b64decode(public_key, validate=True)
        except (binascii.Error, ValueError):
            raise ApplicationError("The FIRS key file's public_key is not base64.", code="invalid_keys") from None
    # Re-serialise so both spellings of the same key compare equal.
    pem = _load_public_key(pem).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return CryptoKeys(public_key_pem=pem, certificate=data["certificate"].strip())


def stamp_plaintext(irn: str, certificate: str, timestamp: int) -> bytes:
    body = {"irn": f"{irn}.{int(timestamp)}", "certificate": certificate}
    return json.dumps(body, separators=codes.STAMP_JSON_SEPARATORS).encode("utf-8")


def stamp_irn(irn: str, keys: CryptoKeys, *, timestamp: int | None = None) -> str:
    """The base64 stamp for `irn`, to be encoded in the invoice's QR code."""
    if not irn:
        raise ApplicationError("Cannot stamp an empty IRN.", code="invalid_irn")
    public_key = keys.public_key()
    plaintext = stamp_plaintext(irn, keys.certificate, int(time.time()) if timestamp is None else timestamp)
    limit = public_key.key_size // 8 - PKCS1V15_OVERHEAD
    if len(plaintext) > limit:
        raise ApplicationError(
            f"The stamp plaintext is {len(plaintext)} bytes, more than the {limit} a {public_key.key_size}-bit key "
            "can encrypt; check the certificate in the FIRS key file.",
            code="invalid_keys",
        )
    return base64.b64encode(public_key.encrypt(plaintext, padding.PKCS1v15())).decode("ascii")


def decrypt_stamp(stamp: str, private_key_pem: bytes) -> DecryptedStamp:
    """Read a stamp back with the private key (FIRS's side; our sandbox's)."""
    private_key = serialization.load_pem_private_key(private_key_pem, password=None)
    try:
        ciphertext = base64.b64decode(stamp, validate=True)
        plaintext = private_key.decrypt(ciphertext, padding.PKCS1v15()).decode("utf-8")
        data = json.loads(plaintext)
        irn, _, ts = data["irn"].rpartition(".")
        return DecryptedStamp(plaintext=plaintext, irn=irn, timestamp=int(ts), certificate=data["certificate"])
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise ApplicationError(f"The stamp cannot be decrypted ({type(exc).__name__}).", code="invalid_stamp") from None


def generate_test_crypto_keys(*, key_size: int = 2048) -> TestCryptoKeys:
    """A fresh RSA key pair and certificate, in the dashboard's JSON form.

    FIRS's certificate is an opaque base64 token short enough to fit in one
    PKCS#1 v1.5 block with the IRN; ours is 32 random bytes in base64.
    """
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    certificate = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    crypto_keys_json = json.dumps(
        {"public_key": base64.b64encode(public_pem).decode("ascii"), "certificate": certificate}
    )
    return TestCryptoKeys(
        crypto_keys_json=crypto_keys_json,
        private_key_pem=private_pem,
        keys=CryptoKeys(public_key_pem=public_pem, certificate=certificate),
    )
