"""The ``ler`` command run as a real subprocess: exit codes, outputs, files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from ler_cli import main as cli_main
from ler_crypto.did import did_key_from_public_key
from ler_crypto.keys import KeyPair
from ler_crypto.sdjwt import Sd, create_presentation, issue_sd_jwt_vc

REPO = Path(__file__).resolve().parents[3]
VECTORS = REPO.parent / "shared" / "vectors"
RDFC_SIGNED = VECTORS / "vc-di-eddsa" / "eddsa-rdfc-2022" / "signedDataInt.json"
JCS_SIGNED = VECTORS / "vc-di-eddsa" / "eddsa-jcs-2022" / "signedJCS.json"
UNSIGNED = VECTORS / "vc-di-eddsa" / "unsigned.json"


def ler(*args: str | Path, stdin: str | None = None, cwd: Path | None = None) -> Any:
    """Run ``python -m ler_cli.main`` with ``args``; bounded in time."""
    return subprocess.run(
        [sys.executable, "-m", "ler_cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def report_of(result: Any) -> dict[str, Any]:
    return json.loads(result.stdout)


@pytest.mark.parametrize("vector", [RDFC_SIGNED, JCS_SIGNED], ids=["rdfc", "jcs"])
def test_official_signed_vectors_exit_0(vector: Path) -> None:
    result = ler("vc", "verify", vector, "--offline")
    assert result.returncode == 0, result.stdout + result.stderr
    assert report_of(result)["verified"] is True


def test_tampered_vector_exits_1(tmp_path: Path) -> None:
    doc = json.loads(RDFC_SIGNED.read_text())
    doc["validFrom"] = "2023-01-02T00:00:00Z"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))
    result = ler("vc", "verify", tampered, "--offline")
    assert result.returncode == 1, result.stdout + result.stderr
    report = report_of(result)
    assert report["verified"] is False
    assert {c["id"]: c["outcome"] for c in report["checks"]}["proof"] == "fail"


@pytest.mark.parametrize("garbage", ["{not json", "[]", "\x00\x01binary", ""])
def test_garbage_exits_2(tmp_path: Path, garbage: str) -> None:
    path = tmp_path / "garbage.json"
    path.write_text(garbage)
    result = ler("vc", "verify", path, "--offline")
    assert result.returncode == 2, result.stdout + result.stderr
    assert report_of(result)["malformed"] is True


def test_missing_file_is_one_clear_line() -> None:
    result = ler("vc", "verify", "/nonexistent/credential.json", "--offline")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("ler: cannot read /nonexistent/credential.json")
    assert "Traceback" not in result.stderr


def test_keygen_sign_verify_round_trip(tmp_path: Path) -> None:
    keygen = ler("vc", "keygen", "--out", tmp_path / "issuer.jwk")
    assert keygen.returncode == 0, keygen.stderr
    info = json.loads(keygen.stdout)
    assert info["did"].startswith("did:key:z6Mk")
    assert info["verificationMethod"].startswith(info["did"] + "#")
    key_file = tmp_path / "issuer.jwk"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert "d" in json.loads(key_file.read_text())
    assert json.loads(key_file.read_text())["d"] not in keygen.stdout  # secret never printed
    again = ler("vc", "keygen", "--out", key_file)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr

    credential = json.loads(UNSIGNED.read_text())
    credential["issuer"] = info["did"]
    unsigned = tmp_path / "unsigned.json"
    unsigned.write_text(json.dumps(credential))
    for suite in ("eddsa-rdfc-2022", "eddsa-jcs-2022"):
        signed_path = tmp_path / f"signed-{suite}.json"
        signed = ler(
            "vc", "sign", unsigned, "--key", key_file, "--suite", suite, "--out", signed_path
        )
        assert signed.returncode == 0, signed.stderr
        verified = ler("vc", "verify", signed_path, "--offline", "--trusted-issuer", info["did"])
        assert verified.returncode == 0, verified.stdout
        checks = {c["id"]: c["outcome"] for c in report_of(verified)["checks"]}
        assert checks["issuer"] == "pass" and checks["trust"] == "pass"
    untrusted = ler("vc", "verify", signed_path, "--offline", "--trusted-issuer", "did:key:zX")
    assert untrusted.returncode == 1


def test_p256_keygen_and_sign_refusal(tmp_path: Path) -> None:
    keygen = ler("vc", "keygen", "--curve", "P-256", "--out", tmp_path / "p256.jwk")
    assert keygen.returncode == 0
    assert json.loads(keygen.stdout)["did"].startswith("did:key:zDn")
    result = ler("vc", "sign", UNSIGNED, "--key", tmp_path / "p256.jwk")
    assert result.returncode == 2
    assert "Ed25519" in result.stderr and "Traceback" not in result.stderr


def test_presentation_challenge_and_domain(tmp_path: Path) -> None:
    ler("vc", "keygen", "--out", tmp_path / "holder.jwk")
    holder = json.loads((tmp_path / "holder.jwk").read_text())["kid"].split("#")[0]
    credential = json.loads(UNSIGNED.read_text())
    credential["issuer"] = holder  # a self-issued credential, signed by the holder
    credential["credentialSubject"]["id"] = holder
    (tmp_path / "vc.json").write_text(json.dumps(credential))
    ler(
        "vc",
        "sign",
        tmp_path / "vc.json",
        "--key",
        tmp_path / "holder.jwk",
        "--out",
        tmp_path / "vc-signed.json",
    )
    vp = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": holder,
        "verifiableCredential": [json.loads((tmp_path / "vc-signed.json").read_text())],
    }
    (tmp_path / "vp.json").write_text(json.dumps(vp))
    signed = ler(
        "vc",
        "sign",
        tmp_path / "vp.json",
        "--key",
        tmp_path / "holder.jwk",
        "--challenge",
        "abc123",
        "--domain",
        "https://verifier.example",
        "--out",
        tmp_path / "vp-signed.json",
    )
    assert signed.returncode == 0, signed.stderr
    assert json.loads((tmp_path / "vp-signed.json").read_text())["proof"]["proofPurpose"] == (
        "authentication"
    )
    ok = ler(
        "vc",
        "verify",
        tmp_path / "vp-signed.json",
        "--offline",
        "--challenge",
        "abc123",
        "--domain",
        "https://verifier.example",
    )
    assert ok.returncode == 0, ok.stdout
    assert report_of(ok)["kind"] == "presentation"
    replay = ler(
        "vc",
        "verify",
        tmp_path / "vp-signed.json",
        "--offline",
        "--challenge",
        "other",
        "--domain",
        "https://verifier.example",
    )
    assert replay.returncode == 1


def test_status_commands_and_revocation(tmp_path: Path) -> None:
    ler("vc", "keygen", "--out", tmp_path / "issuer.jwk")
    issuer = json.loads((tmp_path / "issuer.jwk").read_text())["kid"].split("#")[0]
    url = "https://issuer.example/status/7"
    new = ler(
        "vc",
        "status",
        "new",
        "--url",
        url,
        "--key",
        tmp_path / "issuer.jwk",
        "--out",
        tmp_path / "list.json",
    )
    assert new.returncode == 0, new.stderr
    listed = json.loads((tmp_path / "list.json").read_text())
    assert listed["issuer"] == issuer and listed["proof"]["cryptosuite"] == "eddsa-rdfc-2022"

    credential = json.loads(UNSIGNED.read_text())
    credential["issuer"] = issuer
    credential["credentialStatus"] = {
        "id": f"{url}#1234",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "1234",
        "statusListCredential": url,
    }
    (tmp_path / "vc.json").write_text(json.dumps(credential))
    ler(
        "vc",
        "sign",
        tmp_path / "vc.json",
        "--key",
        tmp_path / "issuer.jwk",
        "--out",
        tmp_path / "vc-signed.json",
    )

    valid = ler(
        "vc",
        "verify",
        tmp_path / "vc-signed.json",
        "--offline",
        "--status-list",
        tmp_path / "list.json",
    )
    assert valid.returncode == 0, valid.stdout
    check = ler(
        "vc", "status", "check", tmp_path / "vc-signed.json", "--list", tmp_path / "list.json"
    )
    assert check.returncode == 0 and json.loads(check.stdout)["entries"][0]["active"] is False

    revoked = ler(
        "vc",
        "status",
        "set",
        tmp_path / "list.json",
        "1234",
        "--key",
        tmp_path / "issuer.jwk",
        "--out",
        tmp_path / "list-revoked.json",
    )
    assert revoked.returncode == 0, revoked.stderr
    got = ler("vc", "status", "get", tmp_path / "list-revoked.json", "1234")
    assert json.loads(got.stdout) == {"index": 1234, "value": 1, "length": 131072}
    check = ler(
        "vc",
        "status",
        "check",
        tmp_path / "vc-signed.json",
        "--list",
        tmp_path / "list-revoked.json",
    )
    assert check.returncode == 1 and json.loads(check.stdout)["entries"][0]["active"] is True
    result = ler(
        "vc",
        "verify",
        tmp_path / "vc-signed.json",
        "--offline",
        "--status-list",
        tmp_path / "list-revoked.json",
    )
    assert result.returncode == 1
    assert "revoked" in {c["id"]: c["reason"] for c in report_of(result)["checks"]}["status"]

    # Setting a bit without re-signing leaves a list whose proof no longer verifies.
    unsigned_set = ler(
        "vc",
        "status",
        "set",
        tmp_path / "list.json",
        "1234",
        "--out",
        tmp_path / "list-unsigned.json",
    )
    assert unsigned_set.returncode == 0
    check = ler(
        "vc",
        "status",
        "check",
        tmp_path / "vc-signed.json",
        "--list",
        tmp_path / "list-unsigned.json",
    )
    assert check.returncode == 1 and json.loads(check.stdout)["listVerified"] is False

    out_of_range = ler("vc", "status", "get", tmp_path / "list.json", "131072")
    assert out_of_range.returncode == 2 and "RANGE_ERROR" in out_of_range.stderr


def test_offline_refuses_did_web(tmp_path: Path) -> None:
    doc = json.loads(RDFC_SIGNED.read_text())
    doc["proof"]["verificationMethod"] = "did:web:issuer.example#key-1"
    (tmp_path / "web.json").write_text(json.dumps(doc))
    result = ler("vc", "verify", tmp_path / "web.json", "--offline")
    assert result.returncode == 1
    assert "offline" in json.dumps(report_of(result))


def test_usage_errors_exit_2() -> None:
    assert ler("vc", "sign").returncode == 2
    assert ler("nonsense").returncode == 2
    assert ler("--help").returncode == 0


def test_bench_is_wired_to_ler_crypto_bench(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In-process, with a stand-in module: the benchmark itself takes too long for a unit test."""
    calls: list[bool] = []
    fake = types.ModuleType("ler_crypto.bench")
    fake.run = lambda as_json=False: calls.append(as_json) or {}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ler_crypto.bench", fake)
    assert cli_main.run(["bench", "crypto", "--json"]) == 0
    assert cli_main.run(["bench", "crypto"]) == 0
    assert calls == [True, False]
    monkeypatch.setitem(sys.modules, "ler_crypto.bench", types.ModuleType("ler_crypto.bench"))
    assert cli_main.run(["bench", "crypto"]) == 2
    assert "no run()" in capsys.readouterr().err


def test_verify_sd_jwt_vc_file(tmp_path: Path) -> None:
    issuer, holder = KeyPair.generate("Ed25519"), KeyPair.generate("P-256")
    did, vm = did_key_from_public_key(issuer.public_key)
    issued = issue_sd_jwt_vc(
        issuer=did,
        vct="urn:ler:badge",
        signer=issuer,
        holder_key=holder.public_key,
        kid=vm,
        claims={"skill": Sd("Python"), "grade": Sd("A")},
    )
    shown = create_presentation(
        issued, disclose=["skill"], holder=holder, audience="https://verifier.example", nonce="n-1"
    )
    (tmp_path / "vc.sd-jwt").write_text(shown + "\n")
    ok = ler(
        "vc",
        "verify",
        tmp_path / "vc.sd-jwt",
        "--offline",
        "--challenge",
        "n-1",
        "--domain",
        "https://verifier.example",
    )
    assert ok.returncode == 0, ok.stdout
    assert report_of(ok)["kind"] == "sd-jwt-vc"
    wrong = ler(
        "vc",
        "verify",
        tmp_path / "vc.sd-jwt",
        "--offline",
        "--challenge",
        "n-2",
        "--domain",
        "https://verifier.example",
    )
    assert wrong.returncode == 1
    (tmp_path / "bad.jwt").write_text("eyJhbGciOiJFZERTQSJ9.e30.AAAA")
    assert ler("vc", "verify", tmp_path / "bad.jwt", "--offline").returncode == 2
