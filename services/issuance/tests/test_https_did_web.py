"""HTTPS when a certificate is configured: did:web resolved with ler_crypto's own HTTPS fetcher."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

from issuance_helpers import service_settings, spec
from ler_crypto.did import DidResolver, HttpsWebFetcher
from ler_crypto.verifier import verify_credential
from ler_issuance.bootstrap import bootstrap
from ler_issuance.service_layer.issuers import NewIssuer, register_issuer
from ler_issuance.service_layer.issuing import issue_credential
from ler_platform.local_tls import write_loopback_certificate


async def test_did_web_and_status_lists_over_https(tmp_path: Path) -> None:
    cert, key = (str(path) for path in write_loopback_certificate(tmp_path))
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
