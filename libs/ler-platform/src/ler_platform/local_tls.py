"""A self-signed certificate for servers on loopback (``127.0.0.1``/``localhost``): local
stacks (``make up``, ``make demo``), benchmarks and tests.

Issuance serves its Bitstring Status Lists and did:web documents over HTTPS only (verifiers
refuse plain http, Bitstring Status List v1.0 §6 "Security Considerations"), so a local stack
needs a certificate for 127.0.0.1 that its clients are told to trust (``LER_FETCH_CA_FILE``).
The certificate is its own CA: a client trusting it trusts exactly this one server identity.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def write_loopback_certificate(directory: Path, *, days: int = 30) -> tuple[Path, Path]:
    """Write a self-signed certificate for ``127.0.0.1``/``localhost``; returns (cert, key).

    The key file is created readable by its owner only.
    """
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        # its own CA: the verifier trusts exactly this certificate
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path
