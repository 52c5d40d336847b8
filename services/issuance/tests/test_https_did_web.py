"""HTTPS when a certificate is configured: did:web resolved with ler_crypto's own HTTPS fetcher."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from issuance_helpers import service_settings, spec
from ler_crypto.did import DidResolver, HttpsWebFetcher
from ler_crypto.verifier import verify_credential
from ler_issuance.bootstrap import bootstrap
from ler_issuance.service_layer.issuers import NewIssuer, register_issuer
from ler_issuance.service_layer.issuing import issue_credential


def _self_signed(tmp: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


async def test_did_web_and_status_lists_over_https(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    settings = service_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'issuance.db'}", http_tls_cert=cert, http_tls_key=key
    )
    settings = settings.model_copy(
        update={"public_url": settings.public_url.replace("http://", "https://")}
    )
    app = bootstrap(settings)
    await app.runtime.start()
    try:
        issuer, _ = await register_issuer(app.ctx, NewIssuer(name="A", url="https://a.example"))
        record, _ = await issue_credential(app.ctx, issuer.issuer_id, spec("TLS-1"))
        trust = ssl.create_default_context(cafile=cert)
        fetcher = HttpsWebFetcher(allow_private=True, ssl_context=trust)
        document = json.loads(record.signed_credential)
        assert document["credentialStatus"][0]["statusListCredential"].startswith("https://")
        report = await verify_credential(
            document, resolver=DidResolver(fetcher), status_fetcher=fetcher
        )
        assert report.verified, report.to_dict()
    finally:
        await app.runtime.stop()
