"""Reference RDF Dataset Canonicalization (RDFC-1.0) on top of pyld.

pyld 3.3 calls RDFC-1.0 ``URDNA2015`` (it must be requested explicitly: its
default is the older URGNA2012) and has no equivalent of jsonld.js "safe mode".
This module adds the safe-mode checks that Data Integrity relies on
(VC-DATA-INTEGRITY §4.4 / VERIFY-CHECKLIST item 3: terms that no context defines
and relative IRIs must be rejected, never silently dropped):

* a property that expands to nothing or to a relative IRI → DataLossError (via
  pyld's ``on_property_dropped`` hook);
* ``@type`` / ``@id`` values and properties that stay relative, and blank-node
  predicates (both are dropped by JSON-LD → RDF) → DataLossError;
* inline context terms that look like keywords (pyld only warns and ignores
  them) → DataLossError;
* every context URL goes through the ContextLoader, so unknown URLs (including
  ``@import`` and nested context URLs) raise UnknownContextError.

Work is bounded: the input is checked against ``limits`` first, and the
N-degree hashing step of RDFC-1.0 (exponential on "poison" graphs, RDFC-1.0 §4.4
note) is limited to ``MAX_DEEP_ITERATIONS`` calls. No pyld exception escapes:
everything is mapped to a CryptoError subclass.

Where pyld 3.3 deviates from the specifications -- N-Quads escaping, N-Quads
parsing, duplicate quads, ``"@vocab": null`` -- it is corrected in one marked
section below ("Corrections to pyld 3.3"); the fast path (``canon.rdfc``) gives
the same corrected output.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from typing import Any

import pyld.nquads  # type: ignore[import-untyped, unused-ignore]
from pyld.canon import URDNA2015  # type: ignore[import-untyped, unused-ignore]
from pyld.jsonld import (  # type: ignore[import-untyped, unused-ignore]
    KEYWORDS,
    JsonLdError,
    JsonLdProcessor,
)

from ler_crypto.contexts import ContextLoader, default_loader
from ler_crypto.errors import CryptoError, DataLossError, MalformedInputError
from ler_crypto.limits import check_document

#: Upper bound on RDFC-1.0 "Hash N-Degree Quads" invocations per document.
MAX_DEEP_ITERATIONS = 1000

_ABSOLUTE_IRI = re.compile(r"^([A-Za-z][A-Za-z0-9+\-.]*|_):[^\s]*$")
_KEYWORD_LIKE = re.compile(r"^@[a-zA-Z]+$")
_KEYWORDS = frozenset(KEYWORDS)


# --- Corrections to pyld 3.3 (pinned: pyproject requires pyld==3.3.*) -----------------
# This is the one place where pyld's behaviour is changed, because pyld is wrong here:
#
# 1. N-Quads escaping. RDFC-1.0 §4.4.3 step 7 / §4.6.3 serialize quads in canonical
#    N-Quads form (RDF 1.2 N-Quads §"Canonical N-Quads", by reference to N-Triples
#    canonical form): in literals U+0008 \b, U+0009 \t, U+000A \n, U+000C \f,
#    U+000D \r, '"' \", '\' \\, every other character of U+0000-U+001F and U+007F as
#    \uXXXX with UPPERCASE hex, nothing else escaped. pyld's ``pyld.nquads.escape``
#    only handles five characters (no \b, \f or \u escapes). The serialization is
#    also what Hash First Degree Quads hashes (§4.6.3 step 3.1), so the correct
#    serializer is swapped in where URDNA2015 serializes (``main`` for the output,
#    ``hash_first_degree_quads`` for hashing), by re-binding those two functions to a
#    copy of ``pyld.canon``'s globals in which ``serialize_nquad`` is ours -- the
#    code of the algorithm itself stays pyld's.
# 2. N-Quads parsing (``canonize_nquads``): pyld's ``unescape`` misses \b, \f, \',
#    \uXXXX and \UXXXXXXXX (N-Quads §ECHAR / §UCHAR) and, replacing escape by escape,
#    mis-reads a literal backslash followed by "n"/"t"/... . ``parse_nquads`` below is
#    pyld's parser re-bound to a correct single-pass unescape. pyld also splits the
#    input with ``str.splitlines``, which breaks lines at U+0085, U+2028, U+001C ...
#    inside literals; N-Quads §EOL is only CR/LF, so the input is split on those.
# 3. RDF datasets are sets (RDF 1.1 Concepts §4): pyld's JSON-LD -> RDF keeps quads
#    that are equal as RDF terms but came from different JSON-LD values (``1`` and
#    ``{"@value": "1", "@type": xsd:integer}``); they are removed before RDFC-1.0.
# 4. ``{"@vocab": null}`` (or ``"@language": null``) when no such mapping is active:
#    pyld does ``del active_ctx["@vocab"]`` and raises a bare KeyError. JSON-LD 1.1
#    API §4.1.2 (Context Processing) step 5.8.2 only says "remove any vocabulary
#    mapping", which is a no-op when there is none; ``_SafeProcessor`` makes it one.

_LITERAL_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_LITERAL_ESCAPES.update({'"': '\\"', "\\": "\\\\"})
_NEEDS_LITERAL_ESCAPE = re.compile(r'[\x00-\x1f"\\\x7f]')


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    return _LITERAL_ESCAPES.get(char) or f"\\u{ord(char):04X}"


def escape_literal(value: str) -> str:
    """Canonical N-Quads escaping of a literal's lexical form (see note 1 above)."""
    return _NEEDS_LITERAL_ESCAPE.sub(_escape_char, value)


def _serialize_nquad(triple: dict[str, Any], graph_name: str | None = None) -> str:
    """pyld ``serialize_nquad`` with canonical literal escaping (note 1)."""
    s, p, o = triple["subject"], triple["predicate"], triple["object"]
    g = triple.get("name", {"value": graph_name})["value"]
    parts = [
        "<" + s["value"] + ">" if s["type"] == "IRI" else s["value"],
        "<" + p["value"] + ">" if p["type"] == "IRI" else p["value"],
    ]
    if o["type"] == "IRI":
        parts.append("<" + o["value"] + ">")
    elif o["type"] == "blank node":
        parts.append(o["value"])
    else:
        literal = '"' + escape_literal(o["value"]) + '"'
        if o["datatype"] == pyld.nquads.RDF_LANGSTRING:
            if o.get("language"):
                literal += "@" + o["language"]
        elif o["datatype"] != pyld.nquads.XSD_STRING:
            literal += "^^<" + o["datatype"] + ">"
        parts.append(literal)
    if g is not None:
        parts.append(g if g.startswith("_:") else "<" + g + ">")
    return " ".join(parts) + " .\n"


_ECHAR = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'"}
_ECHAR["\\"] = "\\"
_ESCAPE_SEQUENCE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.DOTALL)


def _unescape_char(match: re.Match[str]) -> str:
    hex_digits = match.group(1) or match.group(2)
    if hex_digits is not None:
        code = int(hex_digits, 16)
        if code > 0x10FFFF:
            raise MalformedInputError(f"invalid N-Quads escape {match.group()!r}")
        return chr(code)
    char = _ECHAR.get(match.group(3))
    if char is None:
        raise MalformedInputError(f"invalid N-Quads escape {match.group()!r}")
    return char


def _unescape_literal(value: str) -> str:
    """N-Quads ECHAR / UCHAR decoding of a literal, in one pass (note 2)."""
    return _ESCAPE_SEQUENCE.sub(_unescape_char, value) if "\\" in value else value


def _rebind(function: Callable[..., Any], **replaced: Any) -> Any:
    """``function`` with some of its module globals replaced (see the notes above)."""
    globals_ = {**function.__globals__, **replaced}
    rebound = types.FunctionType(
        function.__code__, globals_, function.__name__, function.__defaults__, function.__closure__
    )
    rebound.__kwdefaults__ = function.__kwdefaults__
    rebound.__doc__ = function.__doc__
    return rebound


class _NQuadsText(str):
    """N-Quads text whose ``splitlines`` breaks at N-Quads EOL (CR/LF) only (note 2)."""

    __slots__ = ()

    def splitlines(self, keepends: bool = False) -> list[str]:
        lines = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", str(self))
        return lines if keepends else [line.rstrip("\r\n") for line in lines]


_pyld_parse_nquads = _rebind(pyld.nquads.parse_nquads, unescape=_unescape_literal)


def parse_nquads(text: str) -> dict[str, list[dict[str, Any]]]:
    """pyld's N-Quads parser with correct unescaping and line splitting (note 2).

    Raises ``pyld.nquads.ParserError`` for a line that is not a quad.
    """
    return _pyld_parse_nquads(_NQuadsText(text))  # type: ignore[no-any-return]


def dedupe_dataset(dataset: dict[str, list[dict[str, Any]]]) -> None:
    """Remove quads equal as RDF (same canonical serialization), in place (note 3)."""
    for graph_name, triples in dataset.items():
        name = None if graph_name == "@default" else graph_name
        unique: dict[str, dict[str, Any]] = {}
        for triple in triples:
            unique.setdefault(_serialize_nquad(triple, name), triple)
        if len(unique) != len(triples):
            dataset[graph_name] = list(unique.values())


class _ActiveContext(dict[str, Any]):
    """An active context where removing an absent @vocab/@language is a no-op (note 4)."""

    def __delitem__(self, key: str) -> None:
        self.pop(key, None)


class _SafeProcessor(JsonLdProcessor):  # type: ignore[misc]
    """pyld's processor with the context-processing fix of note 4."""

    def _clone_active_context(self, active_ctx: dict[str, Any]) -> dict[str, Any]:
        return _ActiveContext(super()._clone_active_context(active_ctx))


class _BoundedURDNA2015(URDNA2015):  # type: ignore[misc]
    """pyld's URDNA2015 with canonical escaping (note 1) and a cap on N-degree hashing."""

    main = _rebind(URDNA2015.main, serialize_nquad=_serialize_nquad)
    hash_first_degree_quads = _rebind(
        URDNA2015.hash_first_degree_quads, serialize_nquad=_serialize_nquad
    )

    def __init__(self, max_calls: int) -> None:
        super().__init__()
        self._calls_left = max_calls

    def hash_n_degree_quads(self, id_: str, issuer: Any) -> Any:
        self._calls_left -= 1
        if self._calls_left < 0:
            raise MalformedInputError(
                "RDF canonicalization exceeded its work bound (too many indistinguishable "
                "blank nodes: possible poison graph)"
            )
        return super().hash_n_degree_quads(id_, issuer)


def _raise_dropped(expanded_property: str | None) -> None:
    term = expanded_property if expanded_property is not None else "(null)"
    raise DataLossError(
        term,
        f"JSON-LD data loss: property {term!r} is not defined by any context "
        "(or expands to a relative IRI)",
    )


def canonize_reference(document: dict[str, Any], loader: ContextLoader | None = None) -> str:
    """Canonical N-Quads (RDFC-1.0) of a JSON-LD document, via pyld in safe mode.

    Raises DataLossError, UnknownContextError or MalformedInputError; never a
    pyld exception.
    """
    if not isinstance(document, dict):
        raise MalformedInputError(
            f"JSON-LD document must be an object, got {type(document).__name__}"
        )
    check_document(document)
    return canonize_reference_checked(document, loader)


def canonize_reference_checked(
    document: dict[str, Any], loader: ContextLoader | None = None
) -> str:
    """:func:`canonize_reference` for a dict that already passed ``limits.check_document``.

    Internal entry point (``canon.rdfc`` falls back to it after its own check), so
    the input limits are walked once per canonicalization, not twice.
    """
    _check_inline_contexts(document)
    loader = loader or default_loader()
    processor = _SafeProcessor(on_property_dropped=_raise_dropped)
    options: dict[str, Any] = {
        "documentLoader": loader.pyld_loader,
        "contextResolver": loader.pyld_context_resolver(),
        "processingMode": "json-ld-1.1",
        # A null base (VC-DI-EDDSA §3.2.3 via RDFC-1.0 on JSON-LD with no document
        # URL): pyld would otherwise resolve relative IRIs against its built-in
        # "http://example.org/base/" and hide them from the data-loss checks.
        "base": None,
    }
    try:
        expanded = processor.expand(document, dict(options))
        _check_expanded(expanded)
        dataset = processor.to_rdf(expanded, {**options, "produceGeneralizedRdf": False})
        dedupe_dataset(dataset)
        return str(
            _BoundedURDNA2015(MAX_DEEP_ITERATIONS).main(dataset, {"format": "application/n-quads"})
        )
    except CryptoError:
        raise
    except JsonLdError as err:
        raise _translate(err) from err
    except RecursionError as err:
        raise MalformedInputError("JSON-LD document is nested too deeply") from err
    except Warning as err:  # warnings turned into errors by a filter (e.g. pytest -W error)
        raise DataLossError(
            str(err), f"JSON-LD processing warning treated as data loss: {err}"
        ) from err
    except Exception as err:  # pyld raises bare TypeError/KeyError/... on odd input
        raise MalformedInputError(
            f"JSON-LD processing failed: {type(err).__name__}: {err}"
        ) from err


def _translate(err: JsonLdError) -> CryptoError:
    """Map a pyld error to ours, surfacing our own error if it is the root cause."""
    cause: BaseException | None = err
    seen = 0
    while cause is not None and seen < 50:
        if isinstance(cause, CryptoError):
            return cause
        cause = cause.__cause__ or cause.__context__
        seen += 1
    inner = err
    while isinstance(inner.__cause__, JsonLdError):  # the innermost message is the specific one
        inner = inner.__cause__
    code = getattr(inner, "code", None) or getattr(err, "code", None)
    first = inner.args[0] if inner.args else inner
    message = str(first).split("\n", 1)[0]
    details = getattr(inner, "details", None)
    term = details.get("term") if isinstance(details, dict) else None
    if isinstance(term, str):  # name the offending term (pyld keeps it in the details)
        message = f"term {term!r}: {message}"
    return MalformedInputError(f"invalid JSON-LD: {message}" + (f" ({code})" if code else ""))


def _check_inline_contexts(value: Any) -> None:
    """Reject keyword-like terms in inline contexts (pyld ignores them with a warning)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ctx = item.get("@context")
            if ctx is not None:
                _check_context_value(ctx)
            stack.extend(v for k, v in item.items() if k != "@context")
        elif isinstance(item, list):
            stack.extend(item)


def _check_context_value(ctx: Any) -> None:
    stack = [ctx]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            for term, definition in item.items():
                if _KEYWORD_LIKE.match(term) and term not in _KEYWORDS:
                    raise DataLossError(
                        term,
                        f"JSON-LD data loss: context term {term!r} has the form of a keyword "
                        "and would be ignored",
                    )
                if isinstance(definition, dict):
                    scoped = definition.get("@context")
                    if scoped is not None:
                        stack.append(scoped)
                    reverse_or_id = definition.get("@id", definition.get("@reverse"))
                    if (
                        isinstance(reverse_or_id, str)
                        and _KEYWORD_LIKE.match(reverse_or_id)
                        and reverse_or_id not in _KEYWORDS
                    ):
                        raise DataLossError(
                            term,
                            f"JSON-LD data loss: term {term!r} maps to the reserved form "
                            f"{reverse_or_id!r}",
                        )


def _check_expanded(expanded: Any) -> None:
    """Find IRIs that JSON-LD → RDF would silently drop (relative or blank predicates)."""
    stack = [expanded]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        if "@value" in item:
            continue  # value objects: pyld already requires an absolute @type
        for key, value in item.items():
            if key == "@id":
                _require_absolute(value, "@id", node_id=True)
            elif key == "@type":
                for type_iri in value if isinstance(value, list) else [value]:
                    _require_absolute(type_iri, "@type", node_id=False)
            elif key.startswith("_:"):
                raise DataLossError(
                    key, f"JSON-LD data loss: blank node {key!r} used as a property"
                )
            elif not key.startswith("@") and not _ABSOLUTE_IRI.match(key):
                raise DataLossError(key, f"JSON-LD data loss: property {key!r} is a relative IRI")
            if isinstance(value, list | dict):
                stack.append(value)


def _require_absolute(value: Any, role: str, *, node_id: bool) -> None:
    if isinstance(value, str) and _ABSOLUTE_IRI.match(value):
        return
    if isinstance(value, dict) and not value:  # @type: {} only in framing
        return
    what = "type" if role == "@type" else "identifier"
    raise DataLossError(
        str(value),
        f"JSON-LD data loss: {what} {value!r} is not defined by any context and is not an "
        "absolute IRI",
    )


__all__ = ["MAX_DEEP_ITERATIONS", "canonize_reference", "escape_literal", "parse_nquads"]
