"""Create and verify Data Integrity proofs, proof sets and proof chains.

VC-DATA-INTEGRITY 1.0 §4.2 (Add Proof), §4.3 (Add Proof Set/Chain), §4.4/4.5
(Verify Proof, Verify Proof Sets and Chains), with the EdDSA cryptosuites of
VC-DI-EDDSA 1.0 §3.2 (eddsa-rdfc-2022) and §3.3 (eddsa-jcs-2022).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ler_crypto.contexts import ContextLoader
from ler_crypto.dataintegrity.datetimes import format_datetimestamp, parse_datetimestamp
from ler_crypto.dataintegrity.suites import (
    EDDSA_JCS_2022,
    PROOF_TYPE,
    SUPPORTED_CRYPTOSUITES,
    ProofConfigHashes,
    hash_data,
    proof_configuration,
)
from ler_crypto.did.resolver import DidResolver
from ler_crypto.errors import CryptoError, KeyFormatError, MalformedInputError, ProofError
from ler_crypto.keys import PublicKey, Signer
from ler_crypto.multibase import b58decode, b58encode


@dataclass(frozen=True)
class ProofResult:
    """Outcome of verifying one proof of a document."""

    proof_id: str | None
    cryptosuite: str | None
    verification_method: str | None
    verified: bool
    error: str | None
    error_type: str | None = None  # class name of the error, e.g. "DataLossError"


def _proof_list(document: dict[str, Any]) -> list[Any]:
    proof = document.get("proof")
    if proof is None:
        return []
    if isinstance(proof, dict):
        return [proof]
    if isinstance(proof, list):
        return proof
    raise ProofError("'proof' must be an object or an array of objects")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matching_proofs(all_proofs: list[Any], previous: Any) -> list[dict[str, Any]]:
    """The proofs referenced by ``previousProof``, in proof-set order (DI §4.3 step 3)."""
    refs = _as_list(previous)
    matching = [p for p in all_proofs if isinstance(p, dict) and p.get("id") in refs]
    found = {p.get("id") for p in matching}
    for ref in refs:
        if ref not in found:
            raise ProofError(f"previousProof {ref!r} does not match any proof id in the proof set")
    return matching


def _unsecured(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "proof"}


def sign(
    document: dict[str, Any],
    signer: Signer,
    *,
    cryptosuite: str,
    verification_method: str,
    proof_purpose: str = "assertionMethod",
    created: str | None = None,
    expires: str | None = None,
    challenge: str | None = None,
    domain: str | list[str] | None = None,
    proof_id: str | None = None,
    previous_proof: str | list[str] | None = None,
    loader: ContextLoader | None = None,
    config_hashes: ProofConfigHashes | None = None,
) -> dict[str, Any]:
    """Return a new document with an added DataIntegrityProof.

    An existing ``proof`` makes a proof set (the new proof is appended);
    ``previous_proof`` makes a chain, and the referenced proofs are included in
    what is signed. ``created`` defaults to now (UTC, seconds). The input is not
    modified. ``config_hashes``: when signing a batch with the same options (and one
    ``created``), the proof configuration is canonicalized once per distinct ``@context``.
    """
    if not isinstance(document, dict):
        raise MalformedInputError(f"document must be a JSON object, got {type(document).__name__}")
    if cryptosuite not in SUPPORTED_CRYPTOSUITES:
        raise ProofError(
            f"unsupported cryptosuite {cryptosuite!r}; expected one of {SUPPORTED_CRYPTOSUITES}"
        )
    if signer.public_key.curve != "Ed25519":
        raise ProofError(f"{cryptosuite} needs an Ed25519 key, got {signer.public_key.curve}")
    # Input limits (types, depth, size) are enforced by the canonicalizers themselves
    # (limits.check_document for RDFC, the JCS scan for JCS), once per canonicalization.
    all_proofs = _proof_list(document)
    unsecured = _unsecured(document)
    if previous_proof is not None:
        unsecured["proof"] = _matching_proofs(all_proofs, previous_proof)

    proof: dict[str, Any] = {"type": PROOF_TYPE}
    if proof_id is not None:
        proof["id"] = proof_id
    proof["cryptosuite"] = cryptosuite
    proof["created"] = created if created is not None else format_datetimestamp(datetime.now(UTC))
    if expires is not None:
        proof["expires"] = expires
    proof["verificationMethod"] = verification_method
    proof["proofPurpose"] = proof_purpose
    if challenge is not None:
        proof["challenge"] = challenge
    if domain is not None:
        proof["domain"] = domain
    if previous_proof is not None:
        proof["previousProof"] = previous_proof

    config = proof_configuration(cryptosuite, proof, unsecured)
    if cryptosuite == EDDSA_JCS_2022 and "@context" in config:
        # The eddsa-jcs-2022 proof carries the @context it was signed with, so a
        # verifier can check the document's @context (VC-DI-EDDSA §3.3.2 step 4).
        proof["@context"] = config["@context"]
    signature = signer.sign(hash_data(cryptosuite, unsecured, config, loader, config_hashes))
    proof["proofValue"] = "z" + b58encode(signature)

    signed = dict(document)
    signed["proof"] = [*all_proofs, proof] if all_proofs else proof
    return signed


def _decode_proof_value(proof: dict[str, Any]) -> bytes:
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError("proofValue must be a base58btc multibase string ('z' prefix)")
    try:
        signature = b58decode(value[1:])
    except KeyFormatError as err:
        raise ProofError("proofValue is not valid base58btc") from err
    if len(signature) != 64:
        raise ProofError(f"proofValue must decode to 64 bytes, got {len(signature)}")
    return signature


def verify_proof(
    document: dict[str, Any],
    proof: dict[str, Any],
    public_key: PublicKey,
    *,
    loader: ContextLoader | None = None,
) -> None:
    """Verify one proof of ``document`` with ``public_key`` (pure, synchronous).

    ``document`` is the secured document (its ``proof`` member is removed and,
    for a chained proof, replaced by the proofs that ``previousProof`` names).
    Raises ProofError naming the failed check; canonicalization problems raise
    DataLossError / UnknownContextError / MalformedInputError. Purpose, expiry,
    challenge/domain and key authorization are checked by :func:`verify`.
    """
    if not isinstance(document, dict):
        raise MalformedInputError(f"document must be a JSON object, got {type(document).__name__}")
    if not isinstance(proof, dict):
        raise ProofError("proof must be a JSON object")
    proof_type = proof.get("type")
    if proof_type != PROOF_TYPE:
        raise ProofError(f"unsupported proof type {proof_type!r} (only {PROOF_TYPE} is supported)")
    cryptosuite = proof.get("cryptosuite")
    if cryptosuite not in SUPPORTED_CRYPTOSUITES:
        raise ProofError(f"unsupported cryptosuite {cryptosuite!r}")
    if public_key.curve != "Ed25519":
        raise ProofError(f"{cryptosuite} needs an Ed25519 key, got {public_key.curve}")
    signature = _decode_proof_value(proof)

    options = {k: v for k, v in proof.items() if k != "proofValue"}
    unsecured = _unsecured(document)
    if "previousProof" in options:
        unsecured["proof"] = _matching_proofs(_proof_list(document), options["previousProof"])
    if "@context" in options:
        # VC-DI-EDDSA §3.3.2 step 4: the document's @context must start with the
        # proof's, which is then what the document is verified with.
        proof_ctx = _as_list(options["@context"])
        doc_ctx = _as_list(unsecured.get("@context"))
        if doc_ctx[: len(proof_ctx)] != proof_ctx:
            raise ProofError("document @context does not start with the proof's @context")
        unsecured["@context"] = options["@context"]
    config = proof_configuration(cryptosuite, options, unsecured)
    if not public_key.verify(signature, hash_data(cryptosuite, unsecured, config, loader)):
        raise ProofError("signature does not verify (document, proof options or key differ)")


async def verify(
    document: dict[str, Any],
    resolver: DidResolver,
    *,
    expected_purpose: str,
    challenge: str | None = None,
    domain: str | None = None,
    loader: ContextLoader | None = None,
    now: datetime | None = None,
) -> list[ProofResult]:
    """Verify every proof of ``document`` independently (proof sets and chains).

    Per proof: type/cryptosuite, ``proofPurpose == expected_purpose``,
    ``created``/``expires`` (not expired at ``now``), ``challenge``/``domain`` when
    expected, the verification method authorized for the purpose, then the
    signature. Raises ProofError only if the document has no usable proof
    container; per-proof failures are reported in the results.
    """
    if not isinstance(document, dict):
        raise MalformedInputError(f"document must be a JSON object, got {type(document).__name__}")
    proofs = _proof_list(document)
    if not proofs:
        raise ProofError("document has no proof")
    moment = now or datetime.now(UTC)
    results = []
    for proof in proofs:
        results.append(
            await _verify_one(
                document, proof, resolver, expected_purpose, challenge, domain, loader, moment
            )
        )
    return results


async def _verify_one(
    document: dict[str, Any],
    proof: Any,
    resolver: DidResolver,
    expected_purpose: str,
    challenge: str | None,
    domain: str | None,
    loader: ContextLoader | None,
    now: datetime,
) -> ProofResult:
    if not isinstance(proof, dict):
        return ProofResult(None, None, None, False, "proof entry is not an object", "ProofError")
    proof_id = proof.get("id") if isinstance(proof.get("id"), str) else None
    suite = proof.get("cryptosuite") if isinstance(proof.get("cryptosuite"), str) else None
    vm = (
        proof.get("verificationMethod")
        if isinstance(proof.get("verificationMethod"), str)
        else None
    )
    try:
        _check_policy(proof, expected_purpose, challenge, domain, now)
        if vm is None:
            raise ProofError("proof 'verificationMethod' must be a URL string")
        key = await resolver.resolve_verification_method(vm, expected_purpose)
        verify_proof(document, proof, key, loader=loader)
    except CryptoError as err:
        return ProofResult(proof_id, suite, vm, False, str(err), type(err).__name__)
    return ProofResult(proof_id, suite, vm, True, None)


def _check_policy(
    proof: dict[str, Any],
    expected_purpose: str,
    challenge: str | None,
    domain: str | None,
    now: datetime,
) -> None:
    for member in ("type", "verificationMethod", "proofPurpose"):
        if member not in proof:
            raise ProofError(f"proof is missing {member!r}")
    if proof.get("type") != PROOF_TYPE:
        raise ProofError(
            f"unsupported proof type {proof.get('type')!r} (only {PROOF_TYPE} is supported)"
        )
    if proof.get("cryptosuite") not in SUPPORTED_CRYPTOSUITES:
        raise ProofError(f"unsupported cryptosuite {proof.get('cryptosuite')!r}")
    if proof["proofPurpose"] != expected_purpose:
        raise ProofError(
            f"proof purpose {proof['proofPurpose']!r} does not match expected {expected_purpose!r}"
        )
    for member in ("created", "expires"):
        if member in proof:
            try:
                moment = parse_datetimestamp(proof[member])
            except ValueError as err:
                raise ProofError(f"proof {member!r} is not a valid dateTimeStamp") from err
            if member == "expires" and moment <= now:
                raise ProofError(f"proof expired at {proof['expires']}")
    if challenge is not None and proof.get("challenge") != challenge:
        raise ProofError("proof challenge does not match the expected challenge")
    if domain is not None and domain not in _as_list(proof.get("domain")):
        raise ProofError("proof domain does not match the expected domain")
