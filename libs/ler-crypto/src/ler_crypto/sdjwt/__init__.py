"""SD-JWT (RFC 9901) and SD-JWT VC (draft-ietf-oauth-sd-jwt-vc): issue, present, verify."""

from ler_crypto.sdjwt.core import SdJwt, parse_sd_jwt, reconstruct, sd_hash
from ler_crypto.sdjwt.disclosures import Disclosure, digest
from ler_crypto.sdjwt.holder import create_presentation, disclosable_paths
from ler_crypto.sdjwt.issuer import Sd, issue_sd_jwt, issue_sd_jwt_vc
from ler_crypto.sdjwt.jws import parse_compact, sign_compact
from ler_crypto.sdjwt.verifier import SdJwtVerification, verify_sd_jwt

__all__ = [
    "Disclosure",
    "Sd",
    "SdJwt",
    "SdJwtVerification",
    "create_presentation",
    "digest",
    "disclosable_paths",
    "issue_sd_jwt",
    "issue_sd_jwt_vc",
    "parse_compact",
    "parse_sd_jwt",
    "reconstruct",
    "sd_hash",
    "sign_compact",
    "verify_sd_jwt",
]
