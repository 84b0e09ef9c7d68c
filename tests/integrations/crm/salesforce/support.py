"""Test data and key material shared by the Salesforce tests (kept out of
conftest.py so test modules can import it)."""
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def key_and_cert(common_name="taxpoynt-jwt", san_ip=None):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=30)))
    if san_ip:
        import ipaddress
        # A self-signed server certificate the client trusts directly.
        builder = (builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san_ip))]),
                                         critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


SEED = {
    "accounts": [{"Name": "Dangote Industries Ltd", "BillingStreet": "1 Alfred Rewane Road", "BillingCity": "Lagos",
                  "BillingPostalCode": "101233", "BillingCountry": "Nigeria", "Phone": "+2348010000001",
                  "TIN__c": "12345678-0001"}],
    "products": [{"Name": "Consulting day", "ProductCode": "CONS-DAY", "UnitPrice": "250000.00"},
                 {"Name": "Software licence", "ProductCode": "LIC-001", "UnitPrice": "1200000.00"}],
    "opportunities": [
        {"Name": "ERP rollout", "account": 0, "StageName": "Negotiation/Review", "CloseDate": "2026-05-02",
         "line_items": [{"product": "CONS-DAY", "Quantity": "10", "UnitPrice": "250000.00", "Discount": "10"},
                        {"product": "LIC-001", "Quantity": "2", "UnitPrice": "1200000.00"}]},
    ],
}
