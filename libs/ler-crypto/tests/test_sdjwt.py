"""SD-JWT / SD-JWT VC: RFC 9901 disclosure vectors, the spec example inputs, and every check."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from ler_crypto.errors import SdJwtError
from ler_crypto.keys import KeyPair
from ler_crypto.multibase import b64url_decode, b64url_encode
from ler_crypto.sdjwt import (
    Disclosure,
    Sd,
    create_presentation,
    disclosable_paths,
    issue_sd_jwt_vc,
    parse_sd_jwt,
    sign_compact,
    verify_sd_jwt,
)

REPO = Path(__file__).resolve().parents[3]
VECTORS = REPO.parent / "shared" / "vectors" / "sd-jwt"
NOW = 1_700_000_000
AUD = "https://example.com/verifier"
NONCE = "1234567890"


# --- the vectors' tiny YAML subset (mappings, scalars, `!sd` tags) -----------------------------


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    if text in ("true", "True"):
        return True
    if text in ("false", "False"):
        return False
    if text == "null":
        return None
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if text.startswith("{"):
        return json.loads(text)
    return text


def _parse_block(lines: list[tuple[int, str]], start: int, indent: int) -> tuple[Any, int]:
    result: dict[str, Any] = {}
    i = start
    while i < len(lines):
        level, text = lines[i]
        if level < indent:
            break
        sd = text.startswith("!sd ")
        key, _, rest = text.removeprefix("!sd ").partition(":")
        if rest.strip():
            value: Any = _scalar(rest)
            i += 1
        elif i + 1 < len(lines) and lines[i + 1][1].startswith("{"):
            value = _scalar(lines[i + 1][1])  # a flow mapping on its own line
            i += 2
        else:
            value, i = _parse_block(lines, i + 1, lines[i + 1][0] if i + 1 < len(lines) else 0)
        result[key.strip()] = Sd(value) if sd else value
    return result, i


def load_yaml(path: Path) -> dict[str, Any]:
    lines = []
    for raw in path.read_text().splitlines():
        text = raw.split(" #", 1)[0].rstrip()
        if text.strip():
            lines.append((len(text) - len(text.lstrip()), text.strip()))
    parsed, _ = _parse_block(lines, 0, 0)
    return parsed


@pytest.fixture(scope="module")
def settings() -> dict[str, Any]:
    return load_yaml(VECTORS / "sd-jwt-vc-examples" / "settings.yml")


@pytest.fixture(scope="module")
def issuer_key(settings: dict[str, Any]) -> KeyPair:
    return KeyPair.from_private_jwk(settings["key_settings"]["issuer_key"])


@pytest.fixture(scope="module")
def holder_key(settings: dict[str, Any]) -> KeyPair:
    return KeyPair.from_private_jwk(settings["key_settings"]["holder_key"])


# --- RFC 9901 disclosure vectors ---------------------------------------------------------------


def _disclosure_vectors() -> list[dict[str, Any]]:
    return json.loads((VECTORS / "rfc9901-disclosure-vectors.json").read_text())["vectors"]


@pytest.mark.parametrize("vector", _disclosure_vectors(), ids=lambda v: v["decoded"][-2])
def test_rfc9901_disclosures_reproduce_exactly(vector: dict[str, Any]) -> None:
    decoded = vector["decoded"]
    name = decoded[1] if len(decoded) == 3 else None
    created = Disclosure.create(name, decoded[-1], salt=decoded[0])
    assert created.encoded == vector["disclosure"]
    assert created.digest == vector["sha256_digest"]
    parsed = Disclosure.parse(vector["disclosure"])
    assert (parsed.salt, parsed.name, parsed.value) == (decoded[0], name, decoded[-1])


# --- SD-JWT VC example (oauth-sd-jwt-vc example 01) --------------------------------------------


def _issue_example(issuer_key: KeyPair, holder_key: KeyPair, settings: dict[str, Any]) -> str:
    spec = load_yaml(VECTORS / "sd-jwt-vc-examples" / "01" / "specification.yml")
    claims = dict(spec["user_claims"])
    vct = claims.pop("vct")
    return issue_sd_jwt_vc(
        issuer=settings["identifiers"]["issuer"],
        vct=vct,
        claims=claims,
        signer=issuer_key,
        holder_key=holder_key.public_key,
        kid="doc-signer-05-25-2022",
        iat=settings["iat"],
        exp=settings["exp"],
        decoys=3,
    )


def test_sd_jwt_vc_example_issue_present_verify(
    issuer_key: KeyPair, holder_key: KeyPair, settings: dict[str, Any]
) -> None:
    issued = _issue_example(issuer_key, holder_key, settings)
    parsed = parse_sd_jwt(issued)
    assert parsed.jws.header == {"alg": "ES256", "typ": "dc+sd-jwt", "kid": "doc-signer-05-25-2022"}
    payload = parsed.jws.payload
    assert payload["_sd_alg"] == "sha-256"
    assert payload["cnf"]["jwk"] == holder_key.public_key.to_jwk()
    assert "given_name" not in payload and "address" not in payload
    assert len(parsed.disclosures) == 9
    assert payload["_sd"] == sorted(payload["_sd"])
    assert len(payload["_sd"]) >= 9  # real digests plus 0..3 decoys

    spec = load_yaml(VECTORS / "sd-jwt-vc-examples" / "01" / "specification.yml")
    chosen = list(spec["holder_disclosed_claims"])  # address, is_over_65
    presentation = create_presentation(
        issued,
        disclose=chosen,
        holder=holder_key,
        audience=AUD,
        nonce=settings["holder_binding_nonce"],
        iat=NOW,
    )
    result = verify_sd_jwt(
        presentation,
        issuer_key.public_key,
        audience=AUD,
        nonce=settings["holder_binding_nonce"],
        now=NOW,
    )
    assert result.key_bound
    assert result.claims["address"]["locality"] == "Anytown"
    assert result.claims["is_over_65"] is True
    for hidden in ("given_name", "family_name", "email", "birthdate", "is_over_18"):
        assert hidden not in result.claims
    assert result.claims["vct"] == "https://credentials.example.com/identity_credential"


def test_rfc9901_simple_example_nested_selection(
    issuer_key: KeyPair, holder_key: KeyPair, settings: dict[str, Any]
) -> None:
    spec = load_yaml(VECTORS / "rfc9901-examples" / "simple" / "specification.yml")
    issued = issue_sd_jwt_vc(
        issuer="https://example.com/issuer",
        vct="urn:example:pid",
        claims=spec["user_claims"],
        signer=issuer_key,
        holder_key=holder_key.public_key,
        iat=settings["iat"],
    )
    assert ("address",) in disclosable_paths(issued)
    presentation = create_presentation(
        issued,
        disclose=list(spec["holder_disclosed_claims"]),
        holder=holder_key,
        audience=AUD,
        nonce=NONCE,
        iat=NOW,
    )
    result = verify_sd_jwt(presentation, issuer_key.public_key, audience=AUD, nonce=NONCE, now=NOW)
    assert set(result.claims) >= {"given_name", "family_name", "address"}
    assert "email" not in result.claims and "sub" not in result.claims


def test_array_elements_and_recursive_disclosures() -> None:
    issuer, holder = KeyPair.generate("Ed25519"), KeyPair.generate("Ed25519")
    issued = issue_sd_jwt_vc(
        issuer="did:example:issuer",
        vct="urn:ler:skills",
        signer=issuer,
        holder_key=holder.public_key,
        iat=NOW,
        claims={
            "nationalities": [Sd("US"), Sd("DE"), "FR"],
            "degree": Sd({"name": "BSc", "gpa": Sd("3.9")}),
        },
    )
    presentation = create_presentation(
        issued,
        disclose=["nationalities/1", "degree"],
        holder=holder,
        audience=AUD,
        nonce=NONCE,
        iat=NOW,
    )
    result = verify_sd_jwt(presentation, issuer.public_key, audience=AUD, nonce=NONCE, now=NOW)
    assert result.claims["nationalities"] == ["DE", "FR"]
    assert result.claims["degree"] == {"name": "BSc"}  # gpa stays hidden
    deep = create_presentation(
        issued, disclose=[("degree", "gpa")], holder=holder, audience=AUD, nonce=NONCE, iat=NOW
    )
    result = verify_sd_jwt(deep, issuer.public_key, audience=AUD, nonce=NONCE, now=NOW)
    assert result.claims["degree"] == {"name": "BSc", "gpa": "3.9"}


# --- failures ----------------------------------------------------------------------------------


@pytest.fixture
def pair() -> tuple[KeyPair, KeyPair, str]:
    issuer, holder = KeyPair.generate("Ed25519"), KeyPair.generate("P-256")
    issued = issue_sd_jwt_vc(
        issuer="did:example:issuer",
        vct="urn:ler:badge",
        signer=issuer,
        holder_key=holder.public_key,
        iat=NOW,
        claims={"name": Sd("Ada"), "skill": Sd("Python"), "level": "advanced"},
    )
    return issuer, holder, issued


def _present(issued: str, holder: KeyPair, **kw: Any) -> str:
    args: dict[str, Any] = {
        "disclose": ["skill"],
        "holder": holder,
        "audience": AUD,
        "nonce": NONCE,
        "iat": NOW,
    }
    args.update(kw)
    return create_presentation(issued, **args)


def _verify(text: str, issuer: KeyPair, **kw: Any) -> Any:
    args: dict[str, Any] = {"audience": AUD, "nonce": NONCE, "now": NOW}
    args.update(kw)
    return verify_sd_jwt(text, issuer.public_key, **args)


def test_happy_path(pair: tuple[KeyPair, KeyPair, str]) -> None:
    issuer, holder, issued = pair
    result = _verify(_present(issued, holder), issuer)
    assert result.claims["skill"] == "Python" and "name" not in result.claims
    assert result.disclosed_paths == [("skill",)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"audience": "https://evil.example"}, "aud"),
        ({"nonce": "other"}, "nonce"),
        ({"now": NOW + 3600}, "older than"),
        ({"now": NOW - 3600}, "future"),
    ],
)
def test_key_binding_checks(
    pair: tuple[KeyPair, KeyPair, str], kwargs: dict[str, Any], message: str
) -> None:
    issuer, holder, issued = pair
    with pytest.raises(SdJwtError, match=message):
        _verify(_present(issued, holder), issuer, **kwargs)


def test_wrong_issuer_key_and_tampered_payload(pair: tuple[KeyPair, KeyPair, str]) -> None:
    issuer, holder, issued = pair
    presentation = _present(issued, holder)
    with pytest.raises(SdJwtError, match="signature"):
        verify_sd_jwt(
            presentation, KeyPair.generate("Ed25519").public_key, audience=AUD, nonce=NONCE, now=NOW
        )
    jwt, rest = presentation.split("~", 1)
    header, payload, sig = jwt.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["level"] = "expert"
    forged = ".".join([header, b64url_encode(json.dumps(claims).encode()), sig])
    with pytest.raises(SdJwtError, match="signature"):
        _verify(forged + "~" + rest, issuer)


def test_disclosure_changes_break_sd_hash_or_references(pair: tuple[KeyPair, KeyPair, str]) -> None:
    issuer, holder, issued = pair
    presentation = _present(issued, holder)
    jwt, disclosure, kb = presentation.split("~")
    # Dropping the disclosure after binding: sd_hash no longer matches.
    with pytest.raises(SdJwtError, match="sd_hash"):
        _verify(f"{jwt}~~{kb}".replace("~~", "~"), issuer)
    # A forged disclosure is not referenced by any digest.
    fake = Disclosure.create("skill", "Rust").encoded
    with pytest.raises(SdJwtError, match="not referenced"):
        _verify(f"{jwt}~{fake}~{kb}", issuer)
    # The same disclosure twice.
    with pytest.raises(SdJwtError, match="more than once"):
        _verify(f"{jwt}~{disclosure}~{disclosure}~{kb}", issuer)


def test_key_binding_required(pair: tuple[KeyPair, KeyPair, str]) -> None:
    issuer, _, issued = pair
    bare = create_presentation(issued, disclose=["skill"], holder=None)
    with pytest.raises(SdJwtError, match="no KB-JWT"):
        _verify(bare, issuer)
    assert _verify(bare, issuer, require_key_binding=False).key_bound is False
    # A KB-JWT signed by someone else's key.
    other = KeyPair.generate("P-256")
    jwt_part = bare
    from ler_crypto.sdjwt import sd_hash

    forged_kb = sign_compact(
        {"typ": "kb+jwt"},
        {"iat": NOW, "aud": AUD, "nonce": NONCE, "sd_hash": sd_hash(jwt_part)},
        other,
    )
    with pytest.raises(SdJwtError, match="signature"):
        _verify(jwt_part + forged_kb, issuer)


def test_duplicate_digest_in_payload_is_rejected() -> None:
    issuer = KeyPair.generate("Ed25519")
    d = Disclosure.create("a", 1)
    payload = {
        "iss": "x",
        "vct": "v",
        "_sd_alg": "sha-256",
        "_sd": [d.digest],
        "obj": {"_sd": [d.digest]},
    }
    jwt = sign_compact({"typ": "dc+sd-jwt"}, payload, issuer)
    with pytest.raises(SdJwtError, match="more than once"):
        verify_sd_jwt(f"{jwt}~{d.encoded}~", issuer.public_key, require_key_binding=False, now=NOW)


def test_disclosure_may_not_overwrite_a_clear_claim() -> None:
    issuer = KeyPair.generate("Ed25519")
    d = Disclosure.create("vct", "urn:forged")
    payload = {"iss": "x", "vct": "v", "_sd_alg": "sha-256", "_sd": [d.digest]}
    jwt = sign_compact({"typ": "dc+sd-jwt"}, payload, issuer)
    with pytest.raises(SdJwtError, match="already exists"):
        verify_sd_jwt(f"{jwt}~{d.encoded}~", issuer.public_key, require_key_binding=False, now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none", "typ": "dc+sd-jwt"},
        {"alg": "HS256", "typ": "dc+sd-jwt"},
        {"alg": "EdDSA", "typ": "JWT"},
        {"alg": "EdDSA", "typ": "dc+sd-jwt", "crit": ["x"]},
    ],
)
def test_bad_headers(header: dict[str, Any]) -> None:
    issuer = KeyPair.generate("Ed25519")
    payload = b64url_encode(json.dumps({"iss": "x", "vct": "v"}).encode())
    head = b64url_encode(json.dumps(header).encode())
    signing_input = f"{head}.{payload}"
    jwt = f"{signing_input}.{b64url_encode(issuer.sign(signing_input.encode()))}"
    with pytest.raises(SdJwtError):
        verify_sd_jwt(jwt + "~", issuer.public_key, require_key_binding=False, now=NOW)


def test_expired_credential() -> None:
    issuer = KeyPair.generate("Ed25519")
    issued = issue_sd_jwt_vc(
        issuer="x", vct="v", claims={}, signer=issuer, holder_key=None, iat=NOW - 10, exp=NOW - 3600
    )
    with pytest.raises(SdJwtError, match="expired"):
        verify_sd_jwt(issued, issuer.public_key, require_key_binding=False, now=NOW)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "abc",
        "a.b.c~",
        "~~~",
        "e30.e30.~W10~",
        "x" * 2_000_000,
        17,
        "eyJhbGciOiJFZERTQSJ9.eyJ9.AAAA~",
    ],
)
def test_garbage_gives_sd_jwt_errors(garbage: Any) -> None:
    with pytest.raises(SdJwtError):
        verify_sd_jwt(
            garbage, KeyPair.generate("Ed25519").public_key, require_key_binding=False, now=NOW
        )


def test_registered_claims_cannot_be_selectively_disclosed() -> None:
    with pytest.raises(SdJwtError, match="must not be selectively disclosable"):
        issue_sd_jwt_vc(
            issuer="x",
            vct="v",
            claims={"status": Sd({})},
            signer=KeyPair.generate("Ed25519"),
            holder_key=None,
        )


def test_holder_must_use_the_bound_key(pair: tuple[KeyPair, KeyPair, str]) -> None:
    _, _, issued = pair
    with pytest.raises(SdJwtError, match="cnf"):
        _present(issued, KeyPair.generate("P-256"))


def test_disclosure_repr_hides_values() -> None:
    d = Disclosure.create("email", "secret@example.com")
    assert "secret" not in repr(d)
