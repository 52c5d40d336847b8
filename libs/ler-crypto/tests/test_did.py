"""DIDs: did:key, did:jwk, did:web (against a real local HTTPS server) and VM lookup."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ler_crypto.did import (
    DidDocument,
    DidResolver,
    HttpsWebFetcher,
    WebFetcher,
    did_jwk_from_public_key,
    did_key_from_public_key,
    did_web_to_url,
)
from ler_crypto.did.web import is_public_address
from ler_crypto.errors import ResolutionError
from ler_crypto.keys import KeyPair, PublicKey

SHARED = Path(__file__).resolve().parents[4] / "shared"
ED = KeyPair.generate("Ed25519")
ED_LEGACY = KeyPair.generate("Ed25519")
ED_EMBEDDED = KeyPair.generate("Ed25519")
P256 = KeyPair.generate("P-256")


# --- did:key ---------------------------------------------------------------------------


def test_did_key_document_matches_the_did_key_spec() -> None:
    did, vm_id = did_key_from_public_key(ED.public_key)
    multikey = ED.public_key.to_multikey()
    assert did == f"did:key:{multikey}" and vm_id == f"{did}#{multikey}"
    document = asyncio.run(DidResolver(offline=True).resolve(did)).data
    assert document["@context"] == [
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/multikey/v1",
    ]
    assert document["verificationMethod"] == [
        {"id": vm_id, "type": "Multikey", "controller": did, "publicKeyMultibase": multikey}
    ]
    for relationship in (
        "authentication",
        "assertionMethod",
        "capabilityInvocation",
        "capabilityDelegation",
    ):
        assert document[relationship] == [vm_id]


async def test_did_key_vector_and_p256() -> None:
    pair = json.loads((SHARED / "vectors" / "vc-di-eddsa" / "keyPair.json").read_text())
    did = "did:key:" + pair["publicKeyMultibase"]
    key = await DidResolver(offline=True).resolve_verification_method(
        f"{did}#{pair['publicKeyMultibase']}", "assertionMethod"
    )
    assert key.to_multikey() == pair["publicKeyMultibase"]
    did, vm = did_key_from_public_key(P256.public_key)
    assert did.startswith("did:key:zDn")
    assert await DidResolver().resolve_verification_method(vm, "authentication") == P256.public_key


@pytest.mark.parametrize(
    "did",
    [
        "did:key:",
        "did:key:abc",
        "did:key:z123",
        "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",
        "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2:extra",
    ],
)
async def test_invalid_did_keys(did: str) -> None:
    with pytest.raises(ResolutionError, match="invalid did:key"):
        await DidResolver().resolve(did)


async def test_did_key_vm_must_match_fragment() -> None:
    did, _ = did_key_from_public_key(ED.public_key)
    with pytest.raises(ResolutionError, match="not found"):
        await DidResolver().resolve_verification_method(did + "#other", "assertionMethod")


# --- did:jwk ---------------------------------------------------------------------------


async def test_did_jwk_round_trip_and_document() -> None:
    did, vm = did_jwk_from_public_key(P256.public_key)
    assert vm == did + "#0"
    resolver = DidResolver(offline=True)
    document = (await resolver.resolve(did)).data
    assert document["verificationMethod"][0]["publicKeyJwk"] == P256.public_key.to_jwk()
    assert document["verificationMethod"][0]["type"] == "JsonWebKey2020"
    assert "keyAgreement" in document  # no "use" member: both signing and key agreement
    assert await resolver.resolve_verification_method(vm, "assertionMethod") == P256.public_key


async def test_did_jwk_use_sig_and_private_material() -> None:
    from ler_crypto.multibase import b64url_encode

    jwk = dict(ED.public_key.to_jwk(), use="sig")
    did = "did:jwk:" + b64url_encode(json.dumps(jwk).encode())
    document = (await DidResolver().resolve(did)).data
    assert "keyAgreement" not in document and document["assertionMethod"] == [did + "#0"]
    private = "did:jwk:" + b64url_encode(json.dumps(ED.to_private_jwk()).encode())
    with pytest.raises(ResolutionError, match="private key material") as info:
        await DidResolver().resolve(private)
    assert ED.to_private_jwk()["d"] not in str(info.value)
    with pytest.raises(ResolutionError, match="invalid did:jwk"):
        await DidResolver().resolve("did:jwk:!!!")


async def test_unsupported_and_malformed_dids() -> None:
    resolver = DidResolver()
    for did in ("did:example:123", "not-a-did", "did:key:z6Mk#frag"):
        with pytest.raises(ResolutionError):
            await resolver.resolve(did)
    with pytest.raises(ResolutionError, match="fragment"):
        await resolver.resolve_verification_method("did:key:z6Mk", "assertionMethod")


# --- DID documents and VM lookup ------------------------------------------------------


def make_document(did: str) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [
            {
                "id": f"{did}#key-1",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": ED.public_key.to_multikey(),
            },
            {
                "id": "#key-jwk",
                "type": "JsonWebKey",
                "controller": did,
                "publicKeyJwk": P256.public_key.to_jwk(),
            },
            {
                "id": f"{did}#legacy",
                "type": "Ed25519VerificationKey2020",
                "controller": did,
                "publicKeyMultibase": ED_LEGACY.public_key.to_multikey(),
            },
            {
                "id": f"{did}#foreign",
                "type": "Multikey",
                "controller": "did:web:other.example",
                "publicKeyMultibase": ED.public_key.to_multikey(),
            },
        ],
        "assertionMethod": [
            "#key-1",
            f"{did}#legacy",
            f"{did}#foreign",
            {
                "id": f"{did}#embedded",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": ED_EMBEDDED.public_key.to_multikey(),
            },
        ],
        "authentication": [f"{did}#key-jwk"],
    }


def test_document_lookup_and_relationships() -> None:
    did = "did:web:issuer.example"
    document = DidDocument(make_document(did))
    assert document.public_key(f"{did}#key-1") == ED.public_key
    assert document.public_key("#key-jwk") == P256.public_key
    assert document.public_key(f"{did}#legacy") == ED_LEGACY.public_key
    assert document.public_key(f"{did}#embedded") == ED_EMBEDDED.public_key
    assert document.authorizes(f"{did}#key-1", "assertionMethod")
    assert document.authorizes(f"{did}#embedded", "assertionMethod")
    assert not document.authorizes(f"{did}#key-1", "authentication")
    assert document.authorizes(f"{did}#key-jwk", "authentication")
    assert not document.authorizes(f"{did}#key-jwk", "assertionMethod")
    with pytest.raises(ResolutionError, match="controlled by"):
        document.public_key(f"{did}#foreign")
    with pytest.raises(ResolutionError, match="not found"):
        document.public_key(f"{did}#missing")


def test_legacy_2018_key() -> None:
    from ler_crypto.multibase import b58encode

    did = "did:web:legacy.example"
    document = DidDocument(
        {
            "id": did,
            "verificationMethod": [
                {
                    "id": f"{did}#k",
                    "type": "Ed25519VerificationKey2018",
                    "controller": did,
                    "publicKeyBase58": b58encode(ED.public_key.raw),
                }
            ],
        }
    )
    assert document.public_key(f"{did}#k") == ED.public_key


@pytest.mark.parametrize("data", [{}, {"id": 5}, {"id": "https://not-a-did"}, []])
def test_invalid_documents(data: Any) -> None:
    with pytest.raises(ResolutionError):
        DidDocument(data)


# --- did:web URL mapping and address policy ---------------------------------------------


@pytest.mark.parametrize(
    ("did", "url"),
    [
        ("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"),
        ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
        ("did:web:example.com%3A3000:user:alice", "https://example.com:3000/user/alice/did.json"),
    ],
)
def test_did_web_to_url(did: str, url: str) -> None:
    assert did_web_to_url(did) == url


@pytest.mark.parametrize(
    "did",
    [
        "did:web:",
        "did:web:exa mple.com",
        "did:web:example.com:..",
        "did:web:example.com%3Axyz",
        "did:web:example.com::x",
        "did:web:user@example.com",
        "did:web:example.com%2Fpath",
    ],
)
def test_bad_did_web(did: str) -> None:
    with pytest.raises(ResolutionError):
        did_web_to_url(did)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),
        ("100.64.0.1", False),
        ("224.0.0.1", False),
    ],
)
def test_public_address_policy(address: str, public: bool) -> None:
    assert is_public_address(address) is public


# --- resolver with a caller-supplied fetcher ------------------------------------------------


@dataclass
class FakeWebFetcher:
    """Test double implementing the WebFetcher protocol."""

    documents: dict[str, bytes]
    calls: list[str] = field(default_factory=list)

    async def fetch(self, url: str) -> bytes:
        self.calls.append(url)
        if url not in self.documents:
            raise ResolutionError(f"fetching {url!r} returned HTTP 404")
        return self.documents[url]


async def test_resolver_uses_supplied_fetcher() -> None:
    did = "did:web:issuer.example:org"
    fetcher = FakeWebFetcher({did_web_to_url(did): json.dumps(make_document(did)).encode()})
    assert isinstance(fetcher, WebFetcher)
    resolver = DidResolver(fetcher)
    assert (
        await resolver.resolve_verification_method(f"{did}#key-1", "assertionMethod")
        == ED.public_key
    )
    with pytest.raises(ResolutionError, match="not authorized for 'authentication'"):
        await resolver.resolve_verification_method(f"{did}#key-1", "authentication")
    assert fetcher.calls == ["https://issuer.example/org/did.json"] * 2


async def test_resolver_refuses_did_web_offline_or_without_fetcher() -> None:
    with pytest.raises(ResolutionError, match="offline"):
        await DidResolver(FakeWebFetcher({}), offline=True).resolve("did:web:issuer.example")
    with pytest.raises(ResolutionError, match="no did:web fetcher"):
        await DidResolver().resolve("did:web:issuer.example")


async def test_resolver_checks_document_id_and_json() -> None:
    did = "did:web:issuer.example"
    url = did_web_to_url(did)
    with pytest.raises(ResolutionError, match="does not match"):
        await DidResolver(
            FakeWebFetcher({url: json.dumps(make_document("did:web:evil.example")).encode()})
        ).resolve(did)
    with pytest.raises(ResolutionError, match="not valid JSON"):
        await DidResolver(FakeWebFetcher({url: b"<html>"})).resolve(did)


async def test_resolver_bounds_a_hanging_fetcher() -> None:
    class Hanging:
        async def fetch(self, url: str) -> bytes:
            await asyncio.sleep(30)
            return b""

    with pytest.raises(ResolutionError, match="timed out"):
        await DidResolver(Hanging(), timeout=0.2).resolve("did:web:issuer.example")


# --- HttpsWebFetcher against a real local HTTPS server ------------------------------------


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
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
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Server:
    port: int
    client_ssl: ssl.SSLContext
    hits: dict[str, int]

    @property
    def did(self) -> str:
        return f"did:web:localhost%3A{self.port}"


@pytest.fixture
async def https_server(tmp_path: Path) -> AsyncIterator[Server]:
    cert_path, key_path = _self_signed(tmp_path)
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ssl.load_cert_chain(cert_path, key_path)
    client_ssl = ssl.create_default_context(cafile=str(cert_path))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    did = f"did:web:localhost%3A{port}"
    hits: dict[str, int] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        hits[request.path] = hits.get(request.path, 0) + 1
        if request.path == "/.well-known/did.json":
            return web.json_response(make_document(did))
        if request.path == "/users/alice/did.json":
            return web.json_response(make_document(did + ":users:alice"))
        if request.path == "/big/did.json":
            return web.Response(body=b" " * 300_000, content_type="application/json")
        if request.path == "/slow/did.json":
            await asyncio.sleep(5)
            return web.json_response({})
        if request.path == "/redirect/did.json":
            raise web.HTTPFound("/.well-known/did.json")
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.SockSite(runner, sock, ssl_context=server_ssl)
    await site.start()
    try:
        yield Server(port, client_ssl, hits)
    finally:
        await runner.cleanup()


async def test_https_fetch_resolve_and_cache(https_server: Server) -> None:
    fetcher = HttpsWebFetcher(allow_private=True, ssl_context=https_server.client_ssl, ttl=60)
    resolver = DidResolver(fetcher)
    vm = f"{https_server.did}#key-1"
    assert await resolver.resolve_verification_method(vm, "assertionMethod") == ED.public_key
    assert await resolver.resolve_verification_method(vm, "assertionMethod") == ED.public_key
    assert https_server.hits["/.well-known/did.json"] == 1  # second came from the TTL cache
    alice = f"{https_server.did}:users:alice"
    assert (await resolver.resolve(alice)).id == alice


async def test_https_cache_ttl_expires(https_server: Server) -> None:
    fetcher = HttpsWebFetcher(allow_private=True, ssl_context=https_server.client_ssl, ttl=0)
    resolver = DidResolver(fetcher)
    await resolver.resolve(https_server.did)
    await resolver.resolve(https_server.did)
    assert https_server.hits["/.well-known/did.json"] == 2


async def test_https_refuses_loopback_by_default(https_server: Server) -> None:
    fetcher = HttpsWebFetcher(ssl_context=https_server.client_ssl)
    with pytest.raises(ResolutionError, match="non-public"):
        await DidResolver(fetcher).resolve(https_server.did)
    with pytest.raises(ResolutionError, match="non-public"):
        await fetcher.fetch(f"https://127.0.0.1:{https_server.port}/.well-known/did.json")
    with pytest.raises(ResolutionError, match="non-public"):
        await fetcher.fetch(f"https://[::ffff:127.0.0.1]:{https_server.port}/.well-known/did.json")
    assert https_server.hits == {}


async def test_https_size_timeout_redirect_status(https_server: Server) -> None:
    base = f"https://localhost:{https_server.port}"
    fetcher = HttpsWebFetcher(
        allow_private=True, ssl_context=https_server.client_ssl, max_bytes=100_000, timeout=0.5
    )
    with pytest.raises(ResolutionError, match="exceeds 100000 bytes"):
        await fetcher.fetch(f"{base}/big/did.json")
    with pytest.raises(ResolutionError, match="timed out"):
        await fetcher.fetch(f"{base}/slow/did.json")
    with pytest.raises(ResolutionError, match="HTTP 302"):
        await fetcher.fetch(f"{base}/redirect/did.json")
    with pytest.raises(ResolutionError, match="HTTP 404"):
        await fetcher.fetch(f"{base}/missing/did.json")
    with pytest.raises(ResolutionError, match="only https"):
        await fetcher.fetch(f"http://localhost:{https_server.port}/.well-known/did.json")


async def test_https_untrusted_certificate_fails(https_server: Server) -> None:
    fetcher = HttpsWebFetcher(allow_private=True)  # system trust store: self-signed is refused
    with pytest.raises(ResolutionError, match="failed"):
        await fetcher.fetch(f"https://localhost:{https_server.port}/.well-known/did.json")


def test_public_key_lookup_from_multikey_in_document() -> None:
    # A document that lists the key only by publicKeyMultibase resolves to the same PublicKey.
    did = "did:web:issuer.example"
    doc = DidDocument(make_document(did))
    assert isinstance(doc.public_key(f"{did}#key-1"), PublicKey)
