"""Processed JSON-LD active contexts, built once and reused (private to the fast path).

The fast canonicalizer must expand documents exactly as pyld 3.3 does, and context
processing is where JSON-LD hides most of its rules (protected terms, ``@propagate``,
type-scoped contexts that are reverted when leaving a node, ``@import`` ...). Instead
of re-implementing those rules, context processing is delegated to pyld's own
``JsonLdProcessor._process_context`` -- so the resulting active context is, by
construction, the one pyld would compute -- and the *result* is cached.

pyld keys its processed-context cache by a UUID of the active context; type-scoped
contexts are applied to a fresh clone of the active context whose UUID never repeats,
so pyld rebuilds Open Badges' type-scoped contexts for every document (issue 3,
profiling notes). Here each processed context is an :class:`ActiveContext` node
that memoises its children by (local context, propagate, override_protected); a
credential of a known shape then expands without processing any context at all.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

from pyld.context_resolver import ContextResolver  # type: ignore[import-untyped, unused-ignore]
from pyld.jsonld import (  # type: ignore[import-untyped, unused-ignore]
    KEYWORDS as _PYLD_KEYWORDS,
)
from pyld.jsonld import JsonLdError, JsonLdProcessor

__all__ = ["ActiveContext", "ContextCache", "TermInfo", "Unsupported"]

# pyld's own keyword list (what its _is_keyword tests), as a set.
KEYWORDS: frozenset[str] = frozenset(_PYLD_KEYWORDS)

# Bound on cached active contexts per loader: a flood of documents with distinct
# inline contexts must not grow memory without limit. Realistic traffic uses a
# handful of context shapes, so the bound is never reached in practice.
MAX_CACHED_CONTEXTS = 2048
#: Bound on memoised term lookups per active context.
MAX_MEMO_ENTRIES = 4096


class Unsupported(Exception):
    """The fast path cannot prove its output identical for this input: use the reference."""


class TermInfo:
    """What expansion needs to know about one key of a node object in one active context."""

    __slots__ = (
        "absolute",
        "container",
        "direction",
        "expanded",
        "is_json",
        "keyword",
        "language",
        "plain",
        "reverse",
        "scoped",
        "type",
    )

    def __init__(self, ctx: ActiveContext, key: str) -> None:
        raw = ctx.raw
        self.expanded: str | None = ctx.expand_vocab(key)
        self.keyword = self.expanded in KEYWORDS
        self.absolute = self.expanded is not None and is_absolute_iri(self.expanded)
        mapping = raw["mappings"].get(key)
        # JsonLdProcessor.get_context_value semantics, including "a null mapping hides
        # the default language/direction".
        in_mappings = key in raw["mappings"]
        language = raw.get("@language")
        direction = raw.get("@direction")
        if in_mappings and mapping is None:
            language = direction = None
        self.scoped: Any = None
        self.container: tuple[str, ...] = ()
        self.type: str | None = None
        self.reverse = False
        if mapping is not None:
            self.scoped = mapping.get("@context")
            container = mapping.get("@container")
            if container is not None:
                self.container = tuple(container) if isinstance(container, list) else (container,)
            self.type = mapping.get("@type")
            if "@language" in mapping:
                language = mapping["@language"]
            if "@direction" in mapping:
                direction = mapping["@direction"]
            self.reverse = bool(mapping.get("reverse"))
        self.language: str | None = language
        self.direction: str | None = direction
        self.is_json = self.type == "@json"
        # An ordinary property: no scoped context, container, @json or @reverse.
        self.plain = (
            self.absolute
            and not self.keyword
            and self.scoped is None
            and not self.container
            and not self.is_json
            and not self.reverse
        )


class ActiveContext:
    """An immutable pyld active context plus memoised lookups and children."""

    __slots__ = (
        "_cache",
        "_children",
        "_iri_vocab",
        "_terms",
        "mappings",
        "previous",
        "raw",
        "vocab",
    )

    def __init__(self, raw: Any, cache: ContextCache) -> None:
        self.raw = raw
        self.mappings: dict[str, Any] = raw["mappings"]
        self.vocab: str | None = raw.get("@vocab")
        prev = raw.get("previousContext")
        self.previous: ActiveContext | None = cache.wrap(prev) if prev is not None else None
        self._cache = cache
        self._terms: dict[str, TermInfo] = {}
        self._iri_vocab: dict[str, str | None] = {}
        self._children: dict[tuple[Any, ...], ActiveContext] = {}
        # '@base' in a context changes document-relative IRI resolution; the fast
        # path only resolves absolute IRIs, so any @base is simply "unsupported".
        if "@base" in raw and raw["@base"] is not None:
            raise Unsupported("@base")
        # A bare clone (e.g. of "@context": []) has no processingMode, which turns
        # pyld's JSON-LD 1.1 checks off; not worth reproducing.
        if raw.get("processingMode") != "json-ld-1.1":
            raise Unsupported("processing mode")

    def term(self, key: str) -> TermInfo:
        info = self._terms.get(key)
        if info is None:
            info = TermInfo(self, key)
            # Under an @vocab every key is a term: bound what documents can make us keep.
            if len(self._terms) < MAX_MEMO_ENTRIES:
                self._terms[key] = info
        return info

    def expand_vocab(self, value: str) -> str | None:
        """``_expand_iri(ctx, value, vocab=True)`` without document-relative resolution."""
        try:
            return self._iri_vocab[value]
        except KeyError:
            pass
        result: str | None = expand_iri(self, value, vocab=True, base=False)
        if len(self._iri_vocab) < MAX_MEMO_ENTRIES:
            self._iri_vocab[value] = result
        return result

    def child(
        self, local_ctx: Any, *, propagate: bool, override_protected: bool, key: Any = None
    ) -> ActiveContext:
        """Process ``local_ctx`` against this context (pyld semantics), memoised."""
        ident = ("k", key) if key is not None else ("i", id(local_ctx))
        memo_key = (ident, propagate, override_protected)
        found = self._children.get(memo_key)
        if found is not None:
            return found
        if key is not None:
            _check_inline_context(local_ctx)
        raw = self._cache.process(self.raw, local_ctx, propagate, override_protected)
        result = self._cache.wrap(raw)
        # Memoising by identity is only sound while local_ctx is kept alive (its id()
        # could otherwise be reused by another object).
        if (key is not None or self._cache.pin(local_ctx)) and len(self._children) < 256:
            self._children[memo_key] = result
        return result


class ContextCache:
    """All active contexts derived for one document loader.

    ``pyld_loader`` is the pyld document loader; ``make_resolver`` returns a pyld
    ``ContextResolver`` (the loader's own, so remote documents are cached the same
    way the reference implementation caches them).
    """

    def __init__(
        self, pyld_loader: Callable[..., Any], make_resolver: Callable[[], ContextResolver]
    ) -> None:
        self._lock = threading.Lock()
        self._process_lock = threading.Lock()
        self._loader = pyld_loader
        self._make_resolver = make_resolver
        self._processor = JsonLdProcessor()
        self._wrapped: dict[int, ActiveContext] = {}
        self._pinned: dict[int, Any] = {}
        self.initial = self.wrap(self._processor._get_initial_context(self._options()))

    def _options(self) -> dict[str, Any]:
        # A fresh resolver per processing run: its per-operation cache grows with
        # every context it sees, and processing only happens on a cache miss here.
        return {
            # The reference's null base: a relative "@vocab" or "@base" in a context
            # then stays relative (and is reported) instead of being resolved
            # against pyld's placeholder "http://example.org/base/".
            "base": None,
            "documentLoader": self._loader,
            "contextResolver": self._make_resolver(),
            "processingMode": "json-ld-1.1",
            "isFrame": False,
            "keepFreeFloatingNodes": False,
        }

    @property
    def size(self) -> int:
        return len(self._wrapped)

    def wrap(self, raw: Any) -> ActiveContext:
        found = self._wrapped.get(id(raw))
        if found is not None and found.raw is raw:
            return found
        ctx = ActiveContext(raw, self)
        with self._lock:
            if len(self._wrapped) >= MAX_CACHED_CONTEXTS:
                # Too many distinct contexts: stop memoising new ones rather than grow.
                return ctx
            self._wrapped[id(raw)] = ctx
        return ctx

    def pin(self, obj: Any) -> bool:
        """Keep ``obj`` alive for the cache's lifetime; False when the bound is reached."""
        with self._lock:
            if id(obj) in self._pinned:
                return True
            if len(self._pinned) >= MAX_CACHED_CONTEXTS:
                return False
            self._pinned[id(obj)] = obj
            return True

    def process(self, raw: Any, local_ctx: Any, propagate: bool, override_protected: bool) -> Any:
        try:
            # pyld's context resolver caches (cachetools LRU) are not thread-safe;
            # processing is rare (cache misses only), so it is simply serialised.
            with self._process_lock:
                return self._processor._process_context(
                    raw,
                    local_ctx,
                    self._options(),
                    override_protected=override_protected,
                    propagate=propagate,
                )
        except (JsonLdError, Warning, RecursionError) as err:
            # Unknown context URL, invalid or protected-term redefinition ...: the
            # reference produces the library's specific error for it.
            raise Unsupported("context processing failed") from err
        except Exception as err:  # pyld raises bare KeyError/TypeError on odd contexts
            raise Unsupported("context processing failed") from err


def _check_inline_context(local_ctx: Any) -> None:
    """Keyword-like terms in a document's own context: pyld only warns and ignores
    them, the reference reports data loss -- so the fast path must not process them."""
    stack = [local_ctx]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            for term, definition in item.items():
                if _KEYWORD_LIKE(term) is not None and term not in KEYWORDS:
                    raise Unsupported("keyword-like term in inline context")
                if isinstance(definition, dict):
                    if definition.get("@context") is not None:
                        stack.append(definition["@context"])
                    target = definition.get("@id", definition.get("@reverse"))
                    if (
                        isinstance(target, str)
                        and _KEYWORD_LIKE(target) is not None
                        and target not in KEYWORDS
                    ):
                        raise Unsupported("keyword-like IRI in inline context")
                elif (
                    isinstance(definition, str)
                    and _KEYWORD_LIKE(definition) is not None
                    and definition not in KEYWORDS
                ):
                    raise Unsupported("keyword-like IRI in inline context")


def context_key(local_ctx: Any) -> str:
    """A value key for a document's own ``@context`` (a new object for every document)."""
    return json.dumps(local_ctx, sort_keys=True, separators=(",", ":"))


# pyld's _is_absolute_iri pattern (note "+-." is a character range, as in pyld) and
# its KEYWORD_PATTERN.
_ABSOLUTE = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*|_):[^\s]*$").match
_KEYWORD_LIKE = re.compile(r"^@[a-zA-Z]+$").match


def is_absolute_iri(value: str) -> bool:
    """pyld's ``_is_absolute_iri`` (blank node identifiers count as absolute)."""
    return _ABSOLUTE(value) is not None


def expand_iri(ctx: ActiveContext, value: Any, *, vocab: bool, base: bool) -> Any:
    """pyld ``_expand_iri`` for expansion time (no local context being defined).

    ``base=True`` means "document-relative" (pyld passes ``base=''``). The fast path
    never resolves a relative reference: that is exactly where the reference
    implementation reports data loss (relative type IRIs) or resolves against a
    placeholder base, so such a value is :class:`Unsupported`.
    """
    if value is None or not isinstance(value, str) or value in KEYWORDS:
        return value
    if _KEYWORD_LIKE(value) is not None:
        return None
    mappings = ctx.mappings
    if vocab and value in mappings:
        mapping = mappings[value]
        if mapping is None:
            return None
        return mapping["@id"]
    colon = value.find(":")
    if colon > 0:
        prefix = value[:colon]
        suffix = value[colon + 1 :]
        if prefix == "_" or suffix.startswith("//"):
            return value
        mapping = mappings.get(prefix)
        if mapping and mapping["_prefix"]:
            return mapping["@id"] + suffix
        if _ABSOLUTE(value) is not None:
            return value
    if vocab and ctx.vocab is not None:
        return ctx.vocab + value
    if base:
        raise Unsupported("relative IRI reference")
    return value
