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
"""

from __future__ import annotations

import re
from typing import Any

from pyld.canon import URDNA2015  # type: ignore[import-untyped]
from pyld.jsonld import KEYWORDS, JsonLdError, JsonLdProcessor  # type: ignore[import-untyped]

from ler_crypto.contexts import ContextLoader, default_loader
from ler_crypto.errors import CryptoError, DataLossError, MalformedInputError
from ler_crypto.limits import check_document

#: Upper bound on RDFC-1.0 "Hash N-Degree Quads" invocations per document.
MAX_DEEP_ITERATIONS = 1000

_ABSOLUTE_IRI = re.compile(r"^([A-Za-z][A-Za-z0-9+\-.]*|_):[^\s]*$")
_KEYWORD_LIKE = re.compile(r"^@[a-zA-Z]+$")
_KEYWORDS = frozenset(KEYWORDS)


class _BoundedURDNA2015(URDNA2015):  # type: ignore[misc]
    """pyld's URDNA2015 with a cap on N-degree hashing (poison-graph defence)."""

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
    _check_inline_contexts(document)
    loader = loader or default_loader()
    processor = JsonLdProcessor(on_property_dropped=_raise_dropped)
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


__all__ = ["MAX_DEEP_ITERATIONS", "canonize_reference"]
