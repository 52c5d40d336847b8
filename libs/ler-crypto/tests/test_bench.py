"""ler_crypto.bench: the benchmark runs, reports every row, and measures real work.

No speed is asserted here (speed claims are benchmark ratios, not timed tests);
these tests check that the benchmark measures what it says it measures.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from ler_crypto import bench
from ler_crypto.bench import realistic_ob3_credential
from ler_crypto.dataintegrity import sign, verify_proof
from ler_crypto.did.methods import did_key_from_public_key
from ler_crypto.errors import ProofError
from ler_crypto.keys import KeyPair
from ler_crypto.obv3 import validate_achievement_credential

EXPECTED_ROWS = {
    "eddsa-rdfc-2022 sign",
    "eddsa-rdfc-2022 verify",
    "eddsa-jcs-2022 sign",
    "eddsa-jcs-2022 verify",
    "rdfc canonize (this library)",
    "rdfc canonize (pyld reference)",
    "jcs canonicalize (this library)",
    "jcs canonicalize (rfc8785 package)",
}


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    return bench.run(as_json=False, seconds_per_row=0.06)


def test_credential_is_a_realistic_valid_ob3_credential() -> None:
    key = KeyPair.generate("Ed25519")
    did, _ = did_key_from_public_key(key.public_key)
    credential = realistic_ob3_credential(did)
    size = len(json.dumps(credential, separators=(",", ":")).encode())
    assert 2500 <= size <= 3600  # "about 3 KB"
    assert validate_achievement_credential(credential) == []
    achievement = credential["credentialSubject"]["achievement"]
    assert 3 <= len(achievement["alignment"]) <= 4
    assert credential["credentialStatus"]["type"] == "BitstringStatusListEntry"


@pytest.mark.parametrize("suite", ["eddsa-rdfc-2022", "eddsa-jcs-2022"])
def test_benchmarked_operations_really_sign_and_verify(suite: str) -> None:
    key = KeyPair.generate("Ed25519")
    did, vm_id = did_key_from_public_key(key.public_key)
    signed = sign(realistic_ob3_credential(did), key, cryptosuite=suite, verification_method=vm_id)
    verify_proof(signed, signed["proof"], key.public_key)
    tampered = json.loads(json.dumps(signed))
    tampered["credentialSubject"]["achievement"]["alignment"][0]["targetCode"] = "NSF-XX-000"
    with pytest.raises(ProofError):
        verify_proof(tampered, tampered["proof"], key.public_key)


def test_every_row_is_reported_with_ratio_to_ed25519(result: dict[str, Any]) -> None:
    rows = {row["name"]: row for row in result["rows"]}
    assert set(rows) == EXPECTED_ROWS
    ed_sign = result["baseline"]["ed25519 sign (32 B)"]
    ed_verify = result["baseline"]["ed25519 verify (32 B)"]
    assert ed_sign > 0 and ed_verify > 0
    for name, row in rows.items():
        assert row["per_second"] > 0
        assert 0 < row["median_per_second"] <= row["per_second"]
        base = ed_verify if name.endswith("verify") else ed_sign
        # vs_ed25519 is rounded to 4 decimals: allow that rounding on small ratios.
        assert row["vs_ed25519"] == pytest.approx(row["per_second"] / base, rel=0.01, abs=1e-4)
        assert row["us_per_op"] == pytest.approx(1e6 / row["per_second"], rel=0.01)


def test_targets_are_the_issue_targets(result: dict[str, Any]) -> None:
    rows = {row["name"]: row for row in result["rows"]}
    assert rows["eddsa-rdfc-2022 sign"]["target"] == 800
    assert rows["eddsa-rdfc-2022 verify"]["target"] == 800
    assert rows["eddsa-jcs-2022 sign"]["target"] == 6000
    assert rows["eddsa-jcs-2022 verify"]["target"] == 5000
    for row in rows.values():
        if row["target"] is None:
            assert row["meets_target"] is None
        else:
            assert row["meets_target"] == (row["per_second"] >= row["target"])


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    bench.run(as_json=False, seconds_per_row=0.03)
    out = capsys.readouterr().out
    assert "eddsa-rdfc-2022 sign" in out
    assert "x Ed25519" in out
    assert "shared" in out  # the noise caveat travels with the numbers


def test_json_output_is_the_returned_result(capsys: pytest.CaptureFixture[str]) -> None:
    returned = bench.run(as_json=True, seconds_per_row=0.03)
    printed = json.loads(capsys.readouterr().out)
    assert printed == returned
