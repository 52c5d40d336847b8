"""Production RDF Dataset Canonicalization (RDFC-1.0) of JSON-LD documents.

:func:`canonize` returns the same bytes as the reference
(:func:`ler_crypto.canon.reference.canonize_reference`: pyld 3.3 ``URDNA2015`` with
the library's safe-mode checks and its corrections of pyld -- canonical N-Quads
escaping, duplicate quads removed), several times faster:

1. every JSON-LD context -- including Open Badges' type- and property-scoped ones --
   is processed once per loader by pyld itself and cached (``_context``);
2. expansion and JSON-LD -> RDF are ports of pyld's algorithms restricted to the
   features credentials use (``_expand``, ``_to_rdf``);
3. RDFC-1.0 proper is an optimised port of pyld's ``URDNA2015`` (``_urdna``).

Any input outside the fast path's proven support -- and any input on which the
reference raises (unknown context, data loss, invalid JSON-LD) -- takes the
reference implementation, so errors and edge cases are the reference's by
construction. Identity is checked by differential tests (``tests/test_rdfc*.py``).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from pyld.nquads import ParserError  # type: ignore[import-untyped, unused-ignore]

from ler_crypto.canon._context import ContextCache, Unsupported
from ler_crypto.canon._expand import expand_document
from ler_crypto.canon._to_rdf import Quad, literal_term, to_quads
from ler_crypto.canon._urdna import canonicalize_quads
from ler_crypto.canon.reference import (
    MAX_DEEP_ITERATIONS,
    canonize_reference,
    canonize_reference_checked,
    parse_nquads,
)
from ler_crypto.contexts import ContextLoader, default_loader
from ler_crypto.errors import MalformedInputError
from ler_crypto.limits import check_document

__all__ = [
    "Unsupported",
    "canonize",
    "canonize_fast",
    "canonize_nquads",
    "check_lossless",
    "fast_path_stats",
]

_caches: weakref.WeakKeyDictionary[ContextLoader, ContextCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()
_stats = {"fast": 0, "fallback": 0, "unexpected": 0}


def _cache_for(loader: ContextLoader) -> ContextCache:
    """The context cache of ``loader`` (created on first use, dropped with the loader)."""
    cache = _caches.get(loader)
    if cache is None:
        with _caches_lock:
            cache = _caches.get(loader)
            if cache is None:
                cache = _caches[loader] = _new_cache(weakref.ref(loader))
    return cache


def _new_cache(loader_ref: weakref.ref[ContextLoader]) -> ContextCache:
    # The cache must not hold the loader strongly: it is the value of a
    # WeakKeyDictionary keyed by that loader, which would then never be released.
    def pyld_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        return _alive(loader_ref).pyld_loader(url, options)

    def make_resolver() -> Any:
        return _alive(loader_ref).pyld_context_resolver()

    return ContextCache(pyld_loader, make_resolver)


def _alive(loader_ref: weakref.ref[ContextLoader]) -> ContextLoader:
    loader = loader_ref()
    if loader is None:  # only reachable if a cache outlives its loader
        raise Unsupported("context loader was released")
    return loader


def canonize(document: dict[str, Any], loader: ContextLoader | None = None) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document (byte-identical to pyld URDNA2015).

    Raises :class:`~ler_crypto.errors.DataLossError` for terms no context defines and
    relative IRIs, :class:`~ler_crypto.errors.UnknownContextError` for context URLs the
    loader does not serve, and :class:`~ler_crypto.errors.MalformedInputError` for
    invalid JSON(-LD), oversized input or graphs past the canonicalization work bound.
    """
    if not isinstance(document, dict):
        return canonize_reference(document, loader)
    check_document(document)  # the input limits, walked once for both paths
    return canonize_checked(document, loader or default_loader())


def canonize_checked(document: dict[str, Any], loader: ContextLoader) -> str:
    """:func:`canonize` for a dict that already passed ``limits.check_document``.

    Internal entry point for callers that have just checked the document, so that
    the limits walk runs once per operation. Direct callers should use
    :func:`canonize`, which always checks.
    """
    try:
        result = canonize_fast(document, loader)
    except Unsupported:
        _stats["fallback"] += 1
        return canonize_reference_checked(document, loader)
    except (TypeError, KeyError, AttributeError, ValueError, IndexError):
        # Not expected (the differential tests call canonize_fast directly, where such
        # a bug would surface); in production the reference still gives the right
        # answer or the right error. Counted so that it is visible.
        _stats["unexpected"] += 1
        return canonize_reference_checked(document, loader)
    _stats["fast"] += 1
    return result


def canonize_fast(document: dict[str, Any], loader: ContextLoader) -> str:
    """The fast path alone: raises ``Unsupported`` where :func:`canonize` would fall back.

    For tests and diagnostics (proving that an input really took the fast path).
    The caller is responsible for the input limits (``limits.check_document``).
    """
    try:
        quads = to_quads(expand_document(document, _cache_for(loader)))
    except RecursionError as err:
        raise Unsupported("nesting too deep for the fast path") from err
    return canonicalize_quads(quads, MAX_DEEP_ITERATIONS)


def check_lossless(
    document: dict[str, Any], loader: ContextLoader | None = None, *, limits_checked: bool = False
) -> None:
    """Raise what :func:`canonize` raises for ``document``'s JSON-LD, without RDFC-1.0 proper.

    Data-loss detection (VC DM 2.0 §4.3: every term maps to an absolute IRI) happens in
    expansion and in the JSON-LD -> RDF step; the canonical labelling that follows adds
    nothing to it. A verifier of a document secured without RDFC (``eddsa-jcs-2022``,
    VC-DI-EDDSA §3.3: JCS only) calls this instead of :func:`canonize` and skips that last
    step and its work bound, which only protects RDFC from poison graphs. Whatever the fast
    path does not support is judged by the reference, as in :func:`canonize`.
    ``limits_checked``: the caller already ran ``limits.check_document`` on ``document``.
    """
    loader = loader or default_loader()
    if not limits_checked:
        check_document(document)
    try:
        to_quads(expand_document(document, _cache_for(loader)))
    except (Unsupported, RecursionError):
        _stats["fallback"] += 1
    except (TypeError, KeyError, AttributeError, ValueError, IndexError):
        _stats["unexpected"] += 1  # as in canonize_checked: the reference decides
    else:
        _stats["fast"] += 1
        return
    canonize_reference_checked(document, loader)


def canonize_nquads(nquads: str) -> str:
    """RDFC-1.0 of an N-Quads dataset (pyld ``normalize`` with ``inputFormat`` N-Quads).

    Literal escapes (ECHAR, ``\\uXXXX``, ``\\UXXXXXXXX``) are decoded, duplicate quads
    removed and the output escaped canonically (see ``canon.reference``). Blank node
    labels of the input are first renamed (``_:b0``, ``_:b1`` ...), which does not
    change the canonical result; it avoids a pyld quirk that leaves input labels
    already shaped like ``_:c14nN`` unrenamed.
    """
    try:
        dataset = parse_nquads(nquads)
    except ParserError as err:
        raise MalformedInputError(f"invalid N-Quads: {str(err).splitlines()[0]}") from err
    labels: dict[str, str] = {}

    def term(component: dict[str, Any]) -> str:
        kind = component["type"]
        if kind == "IRI":
            return f"<{component['value']}>"
        if kind == "blank node":
            old = component["value"]
            label = labels.get(old)
            if label is None:
                label = labels[old] = f"_:b{len(labels)}"
            return label
        return literal_term(component["value"], component["datatype"], component.get("language"))

    quads: list[Quad] = []
    for graph_name, triples in dataset.items():
        if graph_name == "@default":
            g: str | None = None
        elif graph_name.startswith("_:"):
            g = term({"type": "blank node", "value": graph_name})
        else:
            g = "<" + graph_name + ">"
        for t in triples:
            quads.append((term(t["subject"]), term(t["predicate"]), term(t["object"]), g))
    return canonicalize_quads(quads, MAX_DEEP_ITERATIONS)


def fast_path_stats() -> dict[str, int]:
    """How many documents took the fast path and how many the reference (diagnostics)."""
    return dict(_stats)
