"""VC Data Model 2.0 (and, by policy, VC 1.1) structural checks — VERIFY-CHECKLIST items 1-8.

Two layers:

* :func:`validate_credential` / :func:`validate_presentation` are pure JSON checks; they collect
  every problem as a :class:`ModelIssue` naming the property by a JSON-pointer path.
* :func:`check_jsonld` runs the document through the JSON-LD processor (the core's RDFC
  canonicalizer with safe mode) to catch what only expansion can see: terms no context defines,
  redefined ``@protected`` terms, unknown contexts (checklist item 3, DATA_LOSS_DETECTION_ERROR).

``check_credential`` / ``check_presentation`` run both and raise :class:`DataModelError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ler_crypto.errors import CryptoError

if TYPE_CHECKING:
    from ler_crypto.contexts import ContextLoader

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
VC_V1_CONTEXT = "https://www.w3.org/2018/credentials/v1"

_FORBIDDEN_IN_URL = re.compile(r"[\s<>\"{}|\\^`\x00-\x1f\x7f]")
_URL_CHAR = r"[^\s<>\"{}|\\^`\x00-\x1f\x7f]"
# ``http(s)://`` and a host (not "/", "?" or "#" first), or any other scheme and something
# after its colon; no forbidden character anywhere (scheme names are case-insensitive).
_URL = re.compile(
    rf"(?:(?i:https?)://(?![/?#]){_URL_CHAR}+|(?!(?i:https?):)[A-Za-z][A-Za-z0-9+.\-]*:{_URL_CHAR}+)\Z"
)
# XSD 1.1 dateTimeStamp (xsd:dateTime with a mandatory timezone), VC DM 2.0 §4.9.
_DATETIME_STAMP = re.compile(
    r"^(?P<year>-?(?:[1-9][0-9]{3,}|0[0-9]{3}))-(?P<month>0[1-9]|1[0-2])"
    r"-(?P<day>0[1-9]|[12][0-9]|3[01])"
    r"T(?:(?P<hour>[01][0-9]|2[0-3]):(?P<minute>[0-5][0-9]):(?P<second>[0-5][0-9])"
    r"(?P<frac>\.[0-9]+)?|(?P<h24>24:00:00(?:\.0+)?))"
    r"(?P<tz>Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))?$"
)
_LANGUAGE_VALUE_KEYS = frozenset({"@value", "@language", "@direction"})


@dataclass(frozen=True)
class ModelIssue:
    """One data-model violation: ``path`` is a JSON pointer to the offending property."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '/'}: {self.message}"


class DataModelError(CryptoError):
    """A credential or presentation violates the data model; ``issues`` lists every problem."""

    def __init__(self, issues: list[ModelIssue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(str(i) for i in self.issues) or "invalid data model")


@dataclass(frozen=True)
class Policy:
    """Verifier policy knobs for the data-model checks.

    ``allow_v1``: accept VC 1.1 documents (``.../2018/credentials/v1`` first), which the W3C
    Data Integrity test suites send.
    """

    allow_v1: bool = False


# --- primitives ----------------------------------------------------------------------------------


def is_url(value: Any) -> bool:
    """True for an absolute URL/IRI: a scheme, no whitespace or forbidden characters.

    VC DM 2.0 §4.4 asks for a URL; DIDs (``did:``), ``urn:`` and ``data:`` URLs qualify.
    Hierarchical web URLs must also name a host. (One regular expression: this runs for every
    URL-valued property of every credential checked, issued or verified.)
    """
    return isinstance(value, str) and _URL.match(value) is not None


def parse_datetime_stamp(value: Any, *, require_timezone: bool = True) -> datetime:
    """Parse an XSD dateTimeStamp into an aware datetime; raise ValueError with the reason.

    With ``require_timezone=False`` (VC 1.1 ``issuanceDate`` is an xsd:dateTime) a value without a
    zone is read as UTC.
    """
    if not isinstance(value, str):
        raise ValueError("must be a string")
    match = _DATETIME_STAMP.match(value)
    if not match:
        raise ValueError(f"{value!r} is not an XSD dateTime (e.g. 2024-01-01T00:00:00Z)")
    tz = match["tz"]
    if tz is None and require_timezone:
        raise ValueError(f"{value!r} has no time zone (dateTimeStamp requires Z or ±hh:mm)")
    year = int(match["year"])
    if not 1 <= year <= 9999:
        raise ValueError(f"year {year} is outside the supported range 1..9999")
    if match["h24"]:
        hour, minute, second, micro, extra_day = 0, 0, 0, 0, 1
    else:
        hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"])
        frac = match["frac"] or ""
        micro = int((frac[1:] + "000000")[:6]) if frac else 0
        extra_day = 0
    try:
        moment = datetime(year, int(match["month"]), int(match["day"]), hour, minute, second, micro)
    except ValueError as err:
        raise ValueError(f"{value!r} is not a real date: {err}") from err
    moment += timedelta(days=extra_day)
    if tz is None or tz == "Z":
        offset = timedelta(0)
    else:
        sign = 1 if tz[0] == "+" else -1
        offset = sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    try:
        return (moment - offset).replace(tzinfo=UTC)
    except OverflowError as err:
        raise ValueError(f"{value!r} is out of range") from err


def as_list(value: Any) -> list[Any]:
    """JSON-LD set semantics: a single value is a one-element set."""
    return value if isinstance(value, list) else [value]


def types_of(document: Any) -> list[str]:
    """The ``type`` values of a node as strings (empty when absent or malformed)."""
    if not isinstance(document, dict):
        return []
    return [t for t in as_list(document.get("type", [])) if isinstance(t, str)]


def issuer_id(credential: Any) -> str | None:
    """The issuer's id (``issuer`` string or ``issuer.id``), or None when absent/malformed."""
    if not isinstance(credential, dict):
        return None
    issuer = credential.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def _ptr(path: str, key: str | int) -> str:
    token = str(key).replace("~", "~0").replace("/", "~1")
    return f"{path}/{token}"


# --- validation ----------------------------------------------------------------------------------


class _Collector:
    def __init__(self) -> None:
        self.issues: list[ModelIssue] = []

    def add(self, path: str, message: str) -> None:
        self.issues.append(ModelIssue(path, message))


def _check_contexts(doc: dict[str, Any], path: str, out: _Collector, policy: Policy) -> str | None:
    """Checklist 2. Returns the base context URL in use (v2 or v1) or None when invalid."""
    cpath = _ptr(path, "@context")
    if "@context" not in doc:
        out.add(cpath, "is required")
        return None
    contexts = as_list(doc["@context"])
    if not contexts:
        out.add(cpath, "must not be empty")
        return None
    first = contexts[0]
    allowed_first = [VC_V2_CONTEXT] + ([VC_V1_CONTEXT] if policy.allow_v1 else [])
    if first not in allowed_first:
        out.add(
            _ptr(cpath, 0),
            f"first item must be exactly {VC_V2_CONTEXT!r}"
            + (f" (or {VC_V1_CONTEXT!r})" if policy.allow_v1 else "")
            + f", got {first!r}",
        )
        base = None
    else:
        base = first
    protected_terms: dict[str, Any] = {}
    for i, item in enumerate(contexts[1:], start=1):
        ipath = _ptr(cpath, i)
        if isinstance(item, str):
            if not is_url(item):
                out.add(ipath, f"context {item!r} is not a URL")
            elif item in (VC_V2_CONTEXT, VC_V1_CONTEXT):
                out.add(ipath, "the base context may only appear first")
        elif isinstance(item, dict):
            _check_inline_context(item, ipath, out, protected_terms)
        else:
            out.add(ipath, "each context must be a URL string or an object")
    return base


def _check_inline_context(
    ctx: dict[str, Any], path: str, out: _Collector, protected: dict[str, Any]
) -> None:
    """Static part of checklist 3: inline term definitions must map to absolute IRIs and must not
    redefine an earlier ``@protected`` inline term (JSON-LD 1.1 §4.1.11)."""
    is_protected = ctx.get("@protected") is True
    for term, definition in ctx.items():
        if term.startswith("@"):
            continue
        iri = definition.get("@id") if isinstance(definition, dict) else definition
        if isinstance(iri, str) and not iri.startswith("@") and ":" in iri:
            prefix = iri.split(":", 1)[0]
            if prefix not in ctx and not is_url(iri):
                out.add(_ptr(path, term), f"term {term!r} maps to {iri!r}, which is not a URL")
        if term in protected and protected[term] != definition:
            out.add(_ptr(path, term), f"redefines the protected term {term!r}")
        if is_protected:
            protected[term] = definition


def _check_types(
    doc: dict[str, Any], path: str, required: str, out: _Collector, *, name: str
) -> None:
    """Checklist 3: ``type`` present, includes the required type, values are terms or URLs."""
    tpath = _ptr(path, "type")
    if "type" not in doc:
        out.add(tpath, f"is required for a {name}")
        return
    values = as_list(doc["type"])
    if not values:
        out.add(tpath, "must not be empty")
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value or _FORBIDDEN_IN_URL.search(value):
            out.add(
                _ptr(tpath, i) if isinstance(doc["type"], list) else tpath,
                f"type values must be non-empty strings (terms or URLs), got {value!r}",
            )
    if required not in values:
        out.add(tpath, f"must include {required!r}")


def _check_single_url(doc: dict[str, Any], key: str, path: str, out: _Collector) -> None:
    """VC DM 2.0 §4.4: an ``id`` is a single URL."""
    if key not in doc:
        return
    value = doc[key]
    if isinstance(value, list):
        out.add(_ptr(path, key), "must be a single URL, not an array")
    elif not is_url(value):
        out.add(_ptr(path, key), f"must be a URL, got {value!r}")


def _check_language_value(value: Any, path: str, out: _Collector) -> None:
    """VC DM 2.0 §4.6: name/description are strings or language value objects (or arrays)."""
    for i, item in enumerate(as_list(value)):
        ipath = _ptr(path, i) if isinstance(value, list) else path
        if isinstance(item, str):
            continue
        if not isinstance(item, dict):
            out.add(ipath, "must be a string or a language value object")
            continue
        extra = set(item) - _LANGUAGE_VALUE_KEYS
        if extra:
            out.add(ipath, f"language value object has unexpected properties {sorted(extra)}")
        if not isinstance(item.get("@value"), str):
            out.add(_ptr(ipath, "@value"), "must be a string")
        if "@language" in item and not isinstance(item["@language"], str):
            out.add(_ptr(ipath, "@language"), "must be a language tag string")
        if "@direction" in item and item["@direction"] not in ("ltr", "rtl"):
            out.add(_ptr(ipath, "@direction"), "must be 'ltr' or 'rtl'")


def _check_names(doc: dict[str, Any], path: str, out: _Collector) -> None:
    for key in ("name", "description"):
        if key in doc:
            _check_language_value(doc[key], _ptr(path, key), out)


def _check_issuer(doc: dict[str, Any], path: str, out: _Collector) -> None:
    """Checklist 4: ``issuer`` is a URL or an object whose ``id`` is a URL."""
    ipath = _ptr(path, "issuer")
    if "issuer" not in doc:
        out.add(ipath, "is required")
        return
    issuer = doc["issuer"]
    if isinstance(issuer, dict):
        if "id" not in issuer:
            out.add(_ptr(ipath, "id"), "is required when issuer is an object")
        else:
            _check_single_url(issuer, "id", ipath, out)
        _check_names(issuer, ipath, out)
    elif not is_url(issuer):
        out.add(ipath, f"must be a URL or an object with an id, got {issuer!r}")


def _check_subjects(doc: dict[str, Any], path: str, out: _Collector) -> None:
    """Checklist 4: ``credentialSubject`` is one or more non-empty objects."""
    spath = _ptr(path, "credentialSubject")
    if "credentialSubject" not in doc:
        out.add(spath, "is required")
        return
    subjects = doc["credentialSubject"]
    items = as_list(subjects)
    if not items:
        out.add(spath, "must contain at least one subject")
    for i, subject in enumerate(items):
        ipath = _ptr(spath, i) if isinstance(subjects, list) else spath
        if not isinstance(subject, dict):
            out.add(ipath, "must be an object")
        elif not subject:
            out.add(ipath, "must contain at least one claim (empty object)")
        else:
            _check_single_url(subject, "id", ipath, out)


def _check_typed_objects(doc: dict[str, Any], path: str, out: _Collector) -> None:
    """Checklist 6: status, schema, terms of use, evidence, refresh entries carry a ``type``."""
    for key in ("credentialStatus", "credentialSchema", "termsOfUse", "evidence", "refreshService"):
        if key not in doc:
            continue
        value = doc[key]
        kpath = _ptr(path, key)
        items = as_list(value)
        if not items:
            out.add(kpath, "must not be empty")
        for i, item in enumerate(items):
            ipath = _ptr(kpath, i) if isinstance(value, list) else kpath
            if not isinstance(item, dict):
                out.add(ipath, "must be an object")
                continue
            if "type" not in item:
                out.add(_ptr(ipath, "type"), "is required")
            else:
                types = as_list(item["type"])
                if not types or not all(isinstance(t, str) and t for t in types):
                    out.add(_ptr(ipath, "type"), "must be a string or an array of strings")
            if key == "credentialSchema" and "id" not in item:
                out.add(_ptr(ipath, "id"), "is required (a URL to the schema)")
            _check_single_url(item, "id", ipath, out)


def _check_related_resources(doc: dict[str, Any], path: str, out: _Collector) -> None:
    """Checklist 7 / VC DM 2.0 §5.3: unique ``id`` URLs each with a digest."""
    if "relatedResource" not in doc:
        return
    value = doc["relatedResource"]
    rpath = _ptr(path, "relatedResource")
    seen: set[str] = set()
    for i, item in enumerate(as_list(value)):
        ipath = _ptr(rpath, i) if isinstance(value, list) else rpath
        if not isinstance(item, dict):
            out.add(ipath, "must be an object")
            continue
        if "id" not in item:
            out.add(_ptr(ipath, "id"), "is required")
        else:
            _check_single_url(item, "id", ipath, out)
            if isinstance(item["id"], str):
                if item["id"] in seen:
                    out.add(_ptr(ipath, "id"), f"duplicate relatedResource id {item['id']!r}")
                seen.add(item["id"])
        if "digestSRI" not in item and "digestMultibase" not in item:
            out.add(ipath, "needs digestSRI or digestMultibase")
        for key in ("digestSRI", "digestMultibase"):
            if key in item and not isinstance(item[key], str):
                out.add(_ptr(ipath, key), "must be a string")


def _check_validity(doc: dict[str, Any], path: str, out: _Collector, base: str | None) -> None:
    """Checklist 5: dateTimeStamp values with a time zone; validFrom <= validUntil."""
    if base == VC_V1_CONTEXT:
        names = ("issuanceDate", "expirationDate")
        if "issuanceDate" not in doc:
            out.add(_ptr(path, "issuanceDate"), "is required by VC Data Model 1.1")
        require_tz = False
    else:
        names = ("validFrom", "validUntil")
        require_tz = True
    parsed: dict[str, datetime] = {}
    for key in names:
        if key in doc:
            try:
                parsed[key] = parse_datetime_stamp(doc[key], require_timezone=require_tz)
            except ValueError as err:
                out.add(_ptr(path, key), str(err))
    start, end = parsed.get(names[0]), parsed.get(names[1])
    if start is not None and end is not None and start > end:
        out.add(_ptr(path, names[1]), f"{doc[names[1]]!r} is before {names[0]} {doc[names[0]]!r}")


def _check_proofs(doc: dict[str, Any], path: str, out: _Collector) -> None:
    """Securing-mechanism shape only (data-model level): each proof is an object with a type."""
    if "proof" not in doc:
        return
    value = doc["proof"]
    ppath = _ptr(path, "proof")
    for i, proof in enumerate(as_list(value)):
        ipath = _ptr(ppath, i) if isinstance(value, list) else ppath
        if not isinstance(proof, dict):
            out.add(ipath, "must be an object")
        elif not isinstance(proof.get("type"), str):
            out.add(_ptr(ipath, "type"), "is required (a string)")


def _validate_credential_into(doc: Any, path: str, out: _Collector, policy: Policy) -> None:
    if not isinstance(doc, dict):
        out.add(path, "a verifiable credential must be a JSON object")
        return
    base = _check_contexts(doc, path, out, policy)
    _check_types(doc, path, "VerifiableCredential", out, name="verifiable credential")
    _check_single_url(doc, "id", path, out)
    _check_issuer(doc, path, out)
    _check_subjects(doc, path, out)
    _check_validity(doc, path, out, base)
    _check_typed_objects(doc, path, out)
    _check_related_resources(doc, path, out)
    _check_names(doc, path, out)
    _check_proofs(doc, path, out)


def validate_credential(doc: Any, policy: Policy | None = None) -> list[ModelIssue]:
    """All data-model issues of a credential (checklist 1-8), without JSON-LD processing."""
    out = _Collector()
    _validate_credential_into(doc, "", out, policy or Policy())
    return out.issues


def is_enveloped_credential(item: Any) -> bool:
    """True for an ``EnvelopedVerifiableCredential`` object (VC DM 2.0 §4.13.1)."""
    return isinstance(item, dict) and "EnvelopedVerifiableCredential" in types_of(item)


def _check_enveloped(item: dict[str, Any], path: str, out: _Collector) -> None:
    contexts = as_list(item.get("@context"))
    if not contexts or contexts[0] != VC_V2_CONTEXT:
        out.add(_ptr(path, "@context"), f"first item must be exactly {VC_V2_CONTEXT!r}")
    value = item.get("id")
    if not isinstance(value, str) or not value.startswith("data:") or "," not in value:
        out.add(_ptr(path, "id"), "an EnvelopedVerifiableCredential id must be a data: URL")


def validate_presentation(doc: Any, policy: Policy | None = None) -> list[ModelIssue]:
    """All data-model issues of a presentation and its embedded credentials."""
    policy = policy or Policy()
    out = _Collector()
    if not isinstance(doc, dict):
        out.add("", "a verifiable presentation must be a JSON object")
        return out.issues
    _check_contexts(doc, "", out, policy)
    _check_types(doc, "", "VerifiablePresentation", out, name="verifiable presentation")
    _check_single_url(doc, "id", "", out)
    if "holder" in doc:
        holder = doc["holder"]
        if isinstance(holder, dict):
            if "id" not in holder:
                out.add("/holder/id", "is required when holder is an object")
            else:
                _check_single_url(holder, "id", "/holder", out)
        elif not is_url(holder):
            out.add("/holder", f"must be a URL or an object with an id, got {holder!r}")
    if "verifiableCredential" in doc:
        value = doc["verifiableCredential"]
        vpath = "/verifiableCredential"
        for i, item in enumerate(as_list(value)):
            ipath = _ptr(vpath, i) if isinstance(value, list) else vpath
            if not isinstance(item, dict):
                # Checklist 1: strings (e.g. a bare JWT) are not credentials; wrap them in an
                # EnvelopedVerifiableCredential instead.
                out.add(ipath, "must be an object (a credential or EnvelopedVerifiableCredential)")
            elif is_enveloped_credential(item):
                _check_enveloped(item, ipath, out)
            else:
                _validate_credential_into(item, ipath, out, policy)
    _check_proofs(doc, "", out)
    _check_names(doc, "", out)
    return out.issues


def holder_id(presentation: Any) -> str | None:
    """The presentation holder's id, or None."""
    if not isinstance(presentation, dict):
        return None
    holder = presentation.get("holder")
    if isinstance(holder, dict):
        holder = holder.get("id")
    return holder if isinstance(holder, str) else None


def embedded_credentials(presentation: Any) -> list[dict[str, Any]]:
    """The (non-enveloped) credential objects embedded in a presentation."""
    if not isinstance(presentation, dict) or "verifiableCredential" not in presentation:
        return []
    return [
        vc
        for vc in as_list(presentation["verifiableCredential"])
        if isinstance(vc, dict) and not is_enveloped_credential(vc)
    ]


def self_asserted_issues(presentation: Any, signer_did: str | None) -> list[ModelIssue]:
    """VC DM 2.0 §4.13.4: a credential secured only by the presentation's own proof (no proof of
    its own, issued by the presentation's signer) requires ``holder`` and ``issuer == holder``."""
    out = _Collector()
    holder = holder_id(presentation)
    for i, vc in enumerate(as_list(presentation.get("verifiableCredential", []))):
        if not isinstance(vc, dict) or is_enveloped_credential(vc) or "proof" in vc:
            continue
        issuer = issuer_id(vc)
        if signer_did is None or issuer != signer_did:
            continue
        if holder is None:
            out.add("/holder", "is required: the presentation includes a self-asserted credential")
        elif issuer != holder:
            out.add(
                f"/verifiableCredential/{i}/issuer",
                f"self-asserted credential issuer {issuer!r} differs from holder {holder!r}",
            )
    return out.issues


# --- JSON-LD layer -------------------------------------------------------------------------------


def check_jsonld(
    doc: dict[str, Any],
    loader: ContextLoader | None = None,
    *,
    canonicalize: bool = True,
    limits_checked: bool = False,
) -> ModelIssue | None:
    """Expand the document with the bundled contexts (no network) and report data loss.

    Returns None when every term maps to an absolute IRI, or the issue (undefined term, relative
    IRI, protected-term redefinition, unknown or malformed context). Proofs are removed first:
    their terms come from the securing mechanism's context and are checked by it.
    ``canonicalize=False`` stops after JSON-LD -> RDF (``canon.rdfc.check_lossless``): the same
    data-loss verdict for documents that are never RDFC-canonicalized (``eddsa-jcs-2022``).
    ``limits_checked``: ``doc`` already passed ``limits.check_document``.
    """
    # Imported here: pyld is heavy and the structural checks above do not need it.
    from ler_crypto.canon.rdfc import canonize, canonize_checked, check_lossless
    from ler_crypto.contexts import default_loader

    body = {k: v for k, v in doc.items() if k != "proof"}
    try:
        if not canonicalize:
            check_lossless(body, loader, limits_checked=limits_checked)
        elif limits_checked:
            canonize_checked(body, loader or default_loader())
        else:
            canonize(body, loader or default_loader())
    except CryptoError as err:
        return ModelIssue("", f"JSON-LD processing failed: {err}")
    return None


def check_credential(
    doc: Any,
    policy: Policy | None = None,
    *,
    loader: ContextLoader | None = None,
    jsonld: bool = True,
) -> None:
    """Raise :class:`DataModelError` unless ``doc`` is a valid credential (structure + JSON-LD)."""
    issues = validate_credential(doc, policy)
    if not issues and jsonld:
        issue = check_jsonld(doc, loader)
        issues = [issue] if issue else []
    if issues:
        raise DataModelError(issues)


def check_presentation(
    doc: Any,
    policy: Policy | None = None,
    *,
    loader: ContextLoader | None = None,
    jsonld: bool = True,
) -> None:
    """Raise :class:`DataModelError` unless ``doc`` is a valid presentation (with JSON-LD)."""
    issues = validate_presentation(doc, policy)
    if not issues and jsonld:
        issue = check_jsonld(doc, loader)
        issues = [issue] if issue else []
    if issues:
        raise DataModelError(issues)


def validity_window(credential: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """(start, end) of a credential's validity period, for either data model version."""
    v1 = as_list(credential.get("@context"))[:1] == [VC_V1_CONTEXT]
    names: Iterable[str] = ("issuanceDate", "expirationDate") if v1 else ("validFrom", "validUntil")
    result: list[datetime | None] = []
    for key in names:
        value = credential.get(key)
        try:
            result.append(
                parse_datetime_stamp(value, require_timezone=not v1) if value is not None else None
            )
        except ValueError:
            result.append(None)
    return result[0], result[1]
