"""The emulator's own certificate authority and its server certificate (kept in DATA/ca/)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAMES = ["localhost", "*.pantheonsite.localhost", "pantheonsite.localhost"]
SERVER_IPS = ["127.0.0.1", "::1"]


def _write_private(path, data):
    fd = os.open(str(path) + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(str(path) + ".tmp", path)


def _write(path, data):
    Path(str(path) + ".tmp").write_bytes(data)
    os.replace(str(path) + ".tmp", path)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def ensure_certs(ca_dir):
    """Create (once) the CA and a server certificate for localhost, 127.0.0.1, ::1 and
    *.pantheonsite.localhost. Returns (ca_path, cert_path, key_path)."""
    ca_dir = Path(ca_dir)
    ca_dir.mkdir(parents=True, exist_ok=True)
    ca_pem, ca_key_pem = ca_dir / "ca.pem", ca_dir / "ca-key.pem"
    cert_pem, key_pem = ca_dir / "server.pem", ca_dir / "server-key.pem"
    now = dt.datetime.now(dt.timezone.utc)
    if not (ca_pem.exists() and ca_key_pem.exists()):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pantheon Emulator Local CA"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pantheon.platform tests")])
        ca_cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
                   .sign(ca_key, hashes.SHA256()))
        _write_private(ca_key_pem, _key_pem(ca_key))
        _write(ca_pem, ca_cert.public_bytes(serialization.Encoding.PEM))
        for stale in (cert_pem, key_pem):
            if stale.exists():
                stale.unlink()
    if not (cert_pem.exists() and key_pem.exists()) or _expiring(cert_pem, now):
        ca_key = serialization.load_pem_private_key(ca_key_pem.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(ca_pem.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        sans = [x509.DNSName(n) for n in SERVER_NAMES] + [x509.IPAddress(ipaddress.ip_address(i)) for i in SERVER_IPS]
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=397))
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write_private(key_pem, _key_pem(key))
        _write(cert_pem, cert.public_bytes(serialization.Encoding.PEM) + ca_pem.read_bytes())
    return ca_pem, cert_pem, key_pem


def _expiring(cert_pem, now):
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    except ValueError:
        return True
    return cert.not_valid_after_utc - now < dt.timedelta(days=7)


def server_ssl_context(ca_dir):
    _ca, cert, key = ensure_certs(ca_dir)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx
