"""The bundled-context JSON-LD document loader."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from ler_crypto.contexts import BUNDLED, ContextLoader, default_loader
from ler_crypto.errors import UnknownContextError

SHARED = Path(__file__).resolve().parents[4] / "shared"


@pytest.mark.parametrize("url", sorted(BUNDLED))
def test_every_bundled_context_loads(url: str) -> None:
    document = default_loader().load(url)
    assert isinstance(document, dict) and isinstance(document["@context"], dict)


def test_bundled_files_are_package_data_identical_to_shared_copies() -> None:
    package_dir = resources.files("ler_crypto") / "contexts"
    sums = {}
    for line in (SHARED / "contexts" / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        sums[name] = digest
    assert set(BUNDLED.values()) == set(sums)
    for name, digest in sums.items():
        assert hashlib.sha256((package_dir / name).read_bytes()).hexdigest() == digest


def test_required_contexts_are_bundled() -> None:
    required = {
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/2018/credentials/v1",
        "https://w3id.org/security/data-integrity/v2",
        "https://w3id.org/security/multikey/v1",
        "https://www.w3.org/ns/did/v1",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json",
        "https://www.w3.org/ns/credentials/status/v1",
    }
    assert required <= set(BUNDLED)


def test_ob_303_is_the_1edtech_copy_with_endorsement_jwt() -> None:
    ctx = default_loader().load("https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json")
    assert "endorsementJwt" in str(ctx)


def test_unknown_url_refused_with_url_in_message() -> None:
    url = "https://w3id.org/citizenship/v4rc1"
    with pytest.raises(UnknownContextError, match="citizenship/v4rc1") as info:
        default_loader().load(url)
    assert info.value.url == url


def test_load_returns_a_fresh_copy() -> None:
    loader = ContextLoader()
    first = loader.load("https://www.w3.org/ns/credentials/v2")
    first["@context"]["poisoned"] = "x"
    assert "poisoned" not in loader.load("https://www.w3.org/ns/credentials/v2")["@context"]


def test_extras_and_pyld_loader_shape() -> None:
    extra_url = "https://example.org/my-context"
    loader = ContextLoader(extra={extra_url: {"@context": {"foo": "https://example.org/foo"}}})
    remote = loader.pyld_loader(extra_url, {})
    assert remote["documentUrl"] == extra_url and remote["contextUrl"] is None
    assert remote["document"]["@context"]["foo"] == "https://example.org/foo"
    assert "tag" not in remote  # extras are not cached process-wide
    bundled = loader.pyld_loader("https://www.w3.org/ns/credentials/v2", {})
    assert bundled["tag"] == "static"
    with pytest.raises(UnknownContextError):
        ContextLoader().load(extra_url)  # extras belong to one loader only


def test_bundled_urls_cannot_be_overridden() -> None:
    with pytest.raises(ValueError, match="cannot be overridden"):
        ContextLoader(extra={"https://www.w3.org/ns/credentials/v2": {"@context": {}}})


def test_default_loader_is_a_singleton() -> None:
    assert default_loader() is default_loader()
    assert default_loader().allow_network is False


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        body = b'{"@context": {"x": "https://example.org/x"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/ld+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    _CountingHandler.hits = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/context.jsonld"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_no_network_fetch_by_default(local_server: str) -> None:
    with pytest.raises(UnknownContextError, match=r"127\.0\.0\.1"):
        ContextLoader().load(local_server)
    assert _CountingHandler.hits == 0


def test_allow_network_still_refuses_plain_http_and_private_hosts(local_server: str) -> None:
    loader = ContextLoader(allow_network=True)
    with pytest.raises(UnknownContextError, match="non-HTTPS"):
        loader.load(local_server)
    with pytest.raises(UnknownContextError, match="non-public"):
        loader.load(local_server.replace("http://", "https://"))
    assert _CountingHandler.hits == 0
