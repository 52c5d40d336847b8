"""Static typing of the Signer protocol: a KeyPair must be accepted where a Signer is.

``Signer`` declares ``algorithm`` and ``public_key`` as read-only properties, so
``KeyPair`` (whose ``algorithm`` is a property) and KMS-backed signers with plain
attributes both satisfy it under ``mypy --strict``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from ler_crypto.keys import KeyPair, PublicKey, Signer

SNIPPET = textwrap.dedent(
    """
    from ler_crypto.dataintegrity import sign
    from ler_crypto.keys import KeyPair, PublicKey, Signer


    class KmsSigner:
        algorithm: str = "EdDSA"

        def __init__(self, public_key: PublicKey) -> None:
            self.public_key = public_key

        def sign(self, data: bytes) -> bytes:
            return data


    def use(signer: Signer) -> str:
        return signer.algorithm + signer.public_key.curve


    key = KeyPair.generate("Ed25519")
    use(key)
    use(KmsSigner(key.public_key))
    sign({}, key, cryptosuite="eddsa-jcs-2022", verification_method="did:example:1#k")
    """
)


SRC = Path(__file__).resolve().parents[1] / "src"


def _mypy(tmp_path: Path, code: str) -> tuple[int, str]:
    """``mypy --strict`` on ``code`` in a subprocess (mypy changes the gc settings of
    the process it runs in, which other tests depend on)."""
    source = tmp_path / "uses_signer.py"
    source.write_text(code, encoding="utf-8")
    env = {**os.environ, "MYPYPATH": str(SRC)}  # type-check against this source tree
    args = ["--strict", "--ignore-missing-imports", "--follow-imports", "silent"]  # pyld: no stubs
    args += ["--cache-dir", str(tmp_path / ".mypy_cache"), str(source)]
    done = subprocess.run(
        [sys.executable, "-m", "mypy", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def test_keypair_and_plain_attribute_signers_satisfy_the_protocol(tmp_path: Path) -> None:
    status, output = _mypy(tmp_path, SNIPPET)
    assert status == 0, output


def test_the_check_is_not_vacuous(tmp_path: Path) -> None:
    # The same check rejects something that is not a Signer (so ler_crypto was really
    # analysed, not treated as an untyped missing import).
    status, output = _mypy(tmp_path, SNIPPET + "\nuse(key.public_key)\n")
    assert status == 1
    assert '"PublicKey"; expected "Signer"' in output


def test_keypair_is_a_runtime_signer() -> None:
    key = KeyPair.generate("Ed25519")
    assert isinstance(key, Signer)
    assert isinstance(key.public_key, PublicKey)
    assert key.algorithm == "EdDSA"
