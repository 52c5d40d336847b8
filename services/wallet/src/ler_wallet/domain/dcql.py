"""Digital Credentials Query Language (OpenID4VP 1.0 §6) on the wallet side: read a verifier's
``dcql_query`` and decide which held credentials can answer each Credential Query.

Supported formats: ``ldp_vc`` (W3C VCs with Data Integrity proofs, Appendix B.1) and
``dc+sd-jwt`` (SD-JWT VC, Appendix B.3). Anything else is refused by name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ler_wallet.domain.errors import InvalidRequest

LDP_VC = "ldp_vc"
SD_JWT_VC = "dc+sd-jwt"
SUPPORTED_FORMATS = (LDP_VC, SD_JWT_VC)
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # §6.1: alphanumeric, underscore or hyphen
MAX_QUERIES = 20
MAX_CLAIMS = 100

# A claims path pointer (§7): object keys (str), array indices (int) or None (every element).
ClaimsPath = tuple[str | int | None, ...]


@dataclass(frozen=True)
class ClaimsQuery:
    """One requested claim (§6.3): its path and, optionally, the values accepted."""

    path: ClaimsPath
    claim_id: str = ""
    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class CredentialQuery:
    """One Credential Query (§6.1)."""

    query_id: str
    format: str
    claims: tuple[ClaimsQuery, ...]
    claim_sets: tuple[tuple[str, ...], ...]
    vct_values: tuple[str, ...] = ()
    type_values: tuple[tuple[str, ...], ...] = ()
    multiple: bool = False


@dataclass(frozen=True)
class DcqlQuery:
    """A parsed ``dcql_query``: the credential queries and which of them are required."""

    credentials: tuple[CredentialQuery, ...]
    required_ids: frozenset[str]

    def get(self, query_id: str) -> CredentialQuery:
        """The query with this id; ``InvalidRequest`` naming it otherwise."""
        for query in self.credentials:
            if query.query_id == query_id:
                return query
        raise InvalidRequest(f"the verifier's request has no credential query {query_id!r}")


def _path(raw: Any, where: str) -> ClaimsPath:
    # §7: a non-empty array of strings, non-negative integers and nulls
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest(f"{where}.path must be a non-empty array")
    for item in raw:
        if (item is not None and not isinstance(item, str | int)) or isinstance(item, bool):
            raise InvalidRequest(f"{where}.path elements must be strings, integers or null")
        if isinstance(item, int) and item < 0:
            raise InvalidRequest(f"{where}.path indices must not be negative")
    return tuple(raw)


def _strings(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise InvalidRequest(f"{where} must be an array of strings")
    return tuple(raw)


def _claims(claims_raw: Any, where: str) -> list[ClaimsQuery]:
    """The claims of a credential query (§6.3)."""
    if not isinstance(claims_raw, list) or len(claims_raw) > MAX_CLAIMS:
        raise InvalidRequest(f"{where}.claims must be an array of at most {MAX_CLAIMS}")
    claims = []
    for j, c in enumerate(claims_raw):
        cw = f"{where}.claims[{j}]"
        if not isinstance(c, dict):
            raise InvalidRequest(f"{cw} must be an object")
        values = c.get("values", [])
        if not isinstance(values, list):
            raise InvalidRequest(f"{cw}.values must be an array")
        claims.append(ClaimsQuery(_path(c.get("path"), cw), str(c.get("id", "")), tuple(values)))
    return claims


def _credential_query(raw: Any, index: int) -> CredentialQuery:
    where = f"dcql_query.credentials[{index}]"
    if not isinstance(raw, dict):
        raise InvalidRequest(f"{where} must be an object")
    query_id, fmt = raw.get("id"), raw.get("format")
    if not isinstance(query_id, str) or not _ID.match(query_id):
        raise InvalidRequest(f"{where}.id must be 1-64 letters, digits, '_' or '-'")
    if fmt not in SUPPORTED_FORMATS:
        raise InvalidRequest(
            f"{where}.format {fmt!r} is not supported (supported: {', '.join(SUPPORTED_FORMATS)})"
        )
    meta = raw.get("meta", {})
    if not isinstance(meta, dict):
        raise InvalidRequest(f"{where}.meta must be an object")
    vct_values: tuple[str, ...] = ()
    type_values: tuple[tuple[str, ...], ...] = ()
    if fmt == SD_JWT_VC and "vct_values" in meta:  # Appendix B.3.5
        vct_values = _strings(meta["vct_values"], f"{where}.meta.vct_values")
    if fmt == LDP_VC and "type_values" in meta:  # Appendix B.1.1
        if not isinstance(meta["type_values"], list):
            raise InvalidRequest(f"{where}.meta.type_values must be an array of arrays")
        type_values = tuple(_strings(t, f"{where}.meta.type_values[]") for t in meta["type_values"])
    claims = _claims(raw.get("claims", []), where)
    sets_raw = raw.get("claim_sets", [])
    if sets_raw and not claims:
        raise InvalidRequest(f"{where}.claim_sets needs claims")  # §6.1
    known_ids = {c.claim_id for c in claims if c.claim_id}
    claim_sets = []
    for option in sets_raw if isinstance(sets_raw, list) else [None]:
        ids = _strings(option, f"{where}.claim_sets[]")
        unknown = set(ids) - known_ids
        if unknown:
            raise InvalidRequest(f"{where}.claim_sets names unknown claim ids {sorted(unknown)}")
        claim_sets.append(ids)
    return CredentialQuery(
        query_id,
        fmt,
        tuple(claims),
        tuple(claim_sets),
        vct_values,
        type_values,
        bool(raw.get("multiple", False)),
    )


def parse_query(raw: Any) -> DcqlQuery:
    """Parse and check a ``dcql_query`` (§6); every problem is named."""
    if not isinstance(raw, dict):
        raise InvalidRequest("dcql_query must be a JSON object")
    items = raw.get("credentials")
    if not isinstance(items, list) or not items or len(items) > MAX_QUERIES:
        raise InvalidRequest(f"dcql_query.credentials must hold 1 to {MAX_QUERIES} queries")
    queries = tuple(_credential_query(item, i) for i, item in enumerate(items))
    ids = [q.query_id for q in queries]
    if len(set(ids)) != len(ids):
        raise InvalidRequest("dcql_query.credentials ids must be unique")
    sets = raw.get("credential_sets")
    if sets is None:
        return DcqlQuery(queries, frozenset(ids))  # §6.4.2: without sets every query is required
    if not isinstance(sets, list) or not sets:
        raise InvalidRequest("dcql_query.credential_sets must be a non-empty array")
    required: set[str] = set()
    for k, entry in enumerate(sets):
        where = f"dcql_query.credential_sets[{k}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("options"), list):
            raise InvalidRequest(f"{where}.options must be an array")
        options = [_strings(o, f"{where}.options[]") for o in entry["options"]]
        for option in options:
            unknown = set(option) - set(ids)
            if unknown:
                raise InvalidRequest(f"{where} names unknown credential queries {sorted(unknown)}")
        # §6.2: a required set with a single option makes its queries required; with several
        # options the learner picks one, so none of them is required on its own
        if entry.get("required", True) and len(options) == 1:
            required.update(options[0])
    return DcqlQuery(queries, frozenset(required))


def values_at(claims: Any, path: ClaimsPath) -> list[Any]:
    """The values a claims path pointer selects (§7.1); empty when it selects nothing."""
    current = [claims]
    for step in path:
        nxt: list[Any] = []
        for node in current:
            if step is None and isinstance(node, list):
                nxt.extend(node)
            elif isinstance(step, str) and isinstance(node, dict) and step in node:
                nxt.append(node[step])
            elif isinstance(step, int) and isinstance(node, list) and step < len(node):
                nxt.append(node[step])
        current = nxt
    return current


def concrete_paths(claims: Any, path: ClaimsPath) -> list[tuple[str | int, ...]]:
    """The concrete paths a pointer selects, null steps expanded to each array index."""
    current: list[tuple[Any, tuple[str | int, ...]]] = [(claims, ())]
    for step in path:
        nxt: list[tuple[Any, tuple[str | int, ...]]] = []
        for node, at in current:
            if step is None and isinstance(node, list):
                nxt.extend((v, (*at, i)) for i, v in enumerate(node))
            elif isinstance(step, str) and isinstance(node, dict) and step in node:
                nxt.append((node[step], (*at, step)))
            elif isinstance(step, int) and isinstance(node, list) and step < len(node):
                nxt.append((node[step], (*at, step)))
        current = nxt
    return [at for _, at in current]


def to_pointer(path: Sequence[str | int | None]) -> str:
    """A claims path as an RFC 6901 JSON pointer (null shown as ``*``, for display only)."""
    parts = []
    for step in path:
        text = "*" if step is None else str(step)
        parts.append(text.replace("~", "~0").replace("/", "~1"))
    return "/" + "/".join(parts)


def _claim_ok(claims: Any, query: ClaimsQuery) -> bool:
    found = values_at(claims, query.path)
    if not found:
        return False
    return not query.values or any(v in query.values for v in found)  # §6.4.1 value matching


def selected_claims(query: CredentialQuery, claims: Any) -> tuple[ClaimsQuery, ...] | None:
    """The claims to present from a credential with these ``claims``, or None when it cannot
    answer the query (§6.4.1: the first claim set it satisfies, else all claims)."""
    if not query.claims:
        return ()
    if not query.claim_sets:
        return query.claims if all(_claim_ok(claims, c) for c in query.claims) else None
    by_id = {c.claim_id: c for c in query.claims}
    for option in query.claim_sets:
        chosen = tuple(by_id[i] for i in option)
        if all(_claim_ok(claims, c) for c in chosen):
            return chosen
    return None


def _type_matches(wanted: str, types: Sequence[str]) -> bool:
    # Appendix B.1.1 gives type_values as expanded IRIs; credentials carry compacted terms of the
    # VC v2 / OB 3.0 contexts, whose expansions end in "#<term>" or "/<term>".
    return wanted in types or any(wanted.endswith(("#" + t, "/" + t)) for t in types)


def format_matches(query: CredentialQuery, fmt: str, document: Any) -> bool:
    """Whether a held credential (format, parsed claims) is of the kind the query asks."""
    if fmt != query.format:
        return False
    if query.format == SD_JWT_VC:
        return not query.vct_values or (
            isinstance(document, dict) and document.get("vct") in query.vct_values
        )
    raw_types = document.get("type", []) if isinstance(document, dict) else []
    types = [raw_types] if isinstance(raw_types, str) else list(raw_types)
    return not query.type_values or any(
        all(_type_matches(t, types) for t in option) for option in query.type_values
    )
