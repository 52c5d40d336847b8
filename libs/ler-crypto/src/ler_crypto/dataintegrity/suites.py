"""The eddsa-rdfc-2022 and eddsa-jcs-2022 cryptosuites (VC-DI-EDDSA v1.0 §3.2, §3.3).

Each suite is Transformation (canonicalize the unsecured document), Proof
Configuration (canonicalize the proof options with the document's
``@context``), Hashing (SHA-256(proof config) || SHA-256(document)) and
Ed25519 over that 64-byte hash data.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

from ler_crypto.canon.jcs import canonicalize as jcs_canonicalize
from ler_crypto.contexts import ContextLoader, default_loader
from ler_crypto.dataintegrity.datetimes import is_datetimestamp
from ler_crypto.errors import MalformedInputError, ProofError
from ler_crypto.limits import MAX_DOCUMENT_BYTES

EDDSA_RDFC_2022 = "eddsa-rdfc-2022"
EDDSA_JCS_2022 = "eddsa-jcs-2022"
SUPPORTED_CRYPTOSUITES = (EDDSA_RDFC_2022, EDDSA_JCS_2022)
PROOF_TYPE = "DataIntegrityProof"


def _rdfc_canonizer() -> Callable[[dict[str, Any], ContextLoader], str]:
    """Prefer the production canonicalizer (canon.rdfc) and fall back to the pyld reference."""
    try:
        from ler_crypto.canon.rdfc import canonize
    except ModuleNotFoundError as err:
        if err.name != "ler_crypto.canon.rdfc":
            raise
        from ler_crypto.canon.reference import canonize_reference as canonize
    return canonize


_canonize_rdfc = _rdfc_canonizer()


def canonicalize_for_suite(
    cryptosuite: str, value: dict[str, Any], loader: ContextLoader | None = None
) -> bytes:
    """RDFC-1.0 N-Quads (rdfc) or RFC 8785 JSON (jcs) of ``value``, as bytes."""
    if cryptosuite == EDDSA_RDFC_2022:
        return _canonize_rdfc(value, loader or default_loader()).encode("utf-8")
    if cryptosuite == EDDSA_JCS_2022:
        canonical = jcs_canonicalize(value)
        if len(canonical) > MAX_DOCUMENT_BYTES:
            raise MalformedInputError(f"document is larger than {MAX_DOCUMENT_BYTES} bytes")
        return canonical
    raise ProofError(f"unsupported cryptosuite {cryptosuite!r}")


def proof_configuration(
    cryptosuite: str, options: dict[str, Any], unsecured_document: dict[str, Any]
) -> dict[str, Any]:
    """The proof configuration object (§3.2.5 / §3.3.5) — before canonicalization.

    Validates type, cryptosuite and the date-time members, then sets ``@context``
    to the document's (rdfc: always; jcs: only when the document has one).
    """
    if options.get("type") != PROOF_TYPE:
        raise ProofError(f"proof type must be {PROOF_TYPE!r}, got {options.get('type')!r}")
    if options.get("cryptosuite") != cryptosuite:
        raise ProofError(
            f"proof cryptosuite {options.get('cryptosuite')!r} does not match {cryptosuite!r}"
        )
    for member in ("created", "expires"):
        if member in options and not is_datetimestamp(options[member]):
            raise ProofError(f"proof {member!r} is not a valid XML Schema dateTimeStamp")
    _check_option_types(options)
    config = {k: v for k, v in options.items() if k != "proofValue"}
    if "@context" in unsecured_document:
        config["@context"] = unsecured_document["@context"]
    return config


def _check_option_types(options: dict[str, Any]) -> None:
    vm = options.get("verificationMethod")
    if not isinstance(vm, str) or ":" not in vm:
        raise ProofError("proof 'verificationMethod' must be a URL string")
    if not isinstance(options.get("proofPurpose"), str):
        raise ProofError("proof 'proofPurpose' must be a string")
    for member in ("id", "challenge", "nonce"):
        if member in options and not isinstance(options[member], str):
            raise ProofError(f"proof {member!r} must be a string")
    for member in ("domain", "previousProof"):
        if member in options:
            value = options[member]
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, str) for v in values):
                raise ProofError(f"proof {member!r} must be a string or a list of strings")


class ProofConfigHashes:
    """Hashes of canonical proof configurations, remembered while signing many documents.

    The proof configuration (§3.2.5 / §3.3.5) is the proof options plus the document's
    ``@context``: documents signed with the same options and the same ``@context`` (a batch of
    credentials from one issuer, with one ``created``) share its hash, and under
    eddsa-rdfc-2022 its canonicalization costs about a tenth of a signature. Keyed by the whole
    configuration, so a different option or context is a different entry; bounded (the oldest
    entry goes first). For one signer's batch: not shared between threads.
    """

    def __init__(self, maxsize: int = 16) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._maxsize = maxsize
        self._hashes: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._hashes)

    def digest(
        self, cryptosuite: str, proof_config: dict[str, Any], loader: ContextLoader | None
    ) -> bytes:
        """SHA-256 of the canonical ``proof_config`` (computed once per distinct config)."""
        try:
            key = (cryptosuite, orjson.dumps(proof_config, option=orjson.OPT_SORT_KEYS))
        except orjson.JSONEncodeError:  # not plain JSON (e.g. a huge int): never remembered
            return _config_digest(cryptosuite, proof_config, loader)
        found = self._hashes.get(key)
        if found is not None:
            self.hits += 1
            return found
        digest = self._hashes[key] = _config_digest(cryptosuite, proof_config, loader)
        if len(self._hashes) > self._maxsize:
            self._hashes.popitem(last=False)
        return digest


def _config_digest(
    cryptosuite: str, proof_config: dict[str, Any], loader: ContextLoader | None
) -> bytes:
    return hashlib.sha256(canonicalize_for_suite(cryptosuite, proof_config, loader)).digest()


def hash_data(
    cryptosuite: str,
    unsecured_document: dict[str, Any],
    proof_config: dict[str, Any],
    loader: ContextLoader | None = None,
    config_hashes: ProofConfigHashes | None = None,
) -> bytes:
    """SHA-256(canonical proof config) || SHA-256(canonical document) (§3.2.4 / §3.3.4).

    ``config_hashes``: remembered proof-configuration hashes (signing a batch)."""
    if config_hashes is not None:
        config_hash = config_hashes.digest(cryptosuite, proof_config, loader)
    else:
        config_hash = _config_digest(cryptosuite, proof_config, loader)
    doc_hash = hashlib.sha256(
        canonicalize_for_suite(cryptosuite, unsecured_document, loader)
    ).digest()
    return config_hash + doc_hash
