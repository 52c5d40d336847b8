"""Data Integrity proofs with the eddsa-rdfc-2022 and eddsa-jcs-2022 cryptosuites."""

from ler_crypto.dataintegrity.proofs import ProofResult, sign, verify, verify_proof
from ler_crypto.dataintegrity.suites import (
    EDDSA_JCS_2022,
    EDDSA_RDFC_2022,
    SUPPORTED_CRYPTOSUITES,
    ProofConfigHashes,
    canonicalize_for_suite,
    hash_data,
    proof_configuration,
)

__all__ = [
    "EDDSA_JCS_2022",
    "EDDSA_RDFC_2022",
    "SUPPORTED_CRYPTOSUITES",
    "ProofConfigHashes",
    "ProofResult",
    "canonicalize_for_suite",
    "hash_data",
    "proof_configuration",
    "sign",
    "verify",
    "verify_proof",
]
