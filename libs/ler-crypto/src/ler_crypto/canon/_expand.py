"""Fast JSON-LD 1.1 expansion, a line-by-line port of pyld 3.3 ``JsonLdProcessor._expand``.

Only the features that credentials use are ported (node objects, ``@id``/``@type``
and their aliases, value objects with ``@language``/``@direction``/``@type``,
``@set``, simple ``@list``, ``@graph`` containers, language maps, ``@json``,
embedded, property-scoped and type-scoped contexts). Everything else -- and every
input on which pyld would raise, drop a term or resolve a relative IRI -- raises
:class:`Unsupported`, and the caller falls back to the reference implementation.
The output has pyld's expanded form exactly (the same dicts pyld would build), so
the RDF step can follow pyld's node-map algorithm unchanged.

Key order: entries are visited in pyld's ``sorted(element.items())`` order, which
decides the first ``@type`` key and the order of values within a property. (Blank
node numbering also follows from it, but canonical labels do not depend on it.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ler_crypto.canon._context import (
    KEYWORDS,
    ActiveContext,
    ContextCache,
    TermInfo,
    Unsupported,
    context_key,
    expand_iri,
)
from ler_crypto.canon._context import is_absolute_iri as _absolute

__all__ = ["expand_document"]

# Keys whose value is stored as a single value, not an array (pyld ``use_array``).
_SINGLE = frozenset(("@index", "@id", "@type", "@value", "@language"))
_SCALARS = (str, bool, int, float)
_SCALAR_TYPES = frozenset(_SCALARS)  # exact types, for the inlined fast checks


def expand_document(document: dict[str, Any], cache: ContextCache) -> list[Any]:
    """pyld ``JsonLdProcessor.expand`` for a dict input with no expandContext."""
    expanded = _expand(cache, cache.initial, None, document, False, False, None)
    if isinstance(expanded, dict) and "@graph" in expanded and len(expanded) == 1:
        expanded = expanded["@graph"]
    elif expanded is None:
        expanded = []
    return expanded if isinstance(expanded, list) else [expanded]


def _add(parent: dict[str, Any], prop: str, value: Any, as_array: bool) -> None:
    """pyld ``add_value`` with ``allowDuplicate=True`` (the expansion case)."""
    if isinstance(value, list):
        if not value and as_array and prop not in parent:
            parent[prop] = []
        for v in value:
            _add(parent, prop, v, as_array)
    elif prop in parent:
        current = parent[prop]
        if not isinstance(current, list):
            parent[prop] = current = [current]
        current.append(value)
    else:
        parent[prop] = [value] if as_array else value


def _expand(
    cache: ContextCache,
    ctx: ActiveContext,
    active_property: str | None,
    element: Any,
    inside_list: bool,
    inside_index: bool,
    type_scoped: ActiveContext | None,
) -> Any:
    if element is None:
        return None
    if isinstance(element, list):
        return _expand_array(
            cache, ctx, active_property, element, inside_list, inside_index, type_scoped
        )
    if not isinstance(element, dict):
        if not isinstance(element, _SCALARS):
            raise Unsupported("non-JSON value")
        if not inside_list and (
            active_property is None or ctx.expand_vocab(active_property) == "@graph"
        ):
            return None
        return _expand_value(ctx, active_property, element)

    expanded_active = ctx.expand_vocab(active_property) if active_property is not None else None
    property_scoped = ctx.term(active_property).scoped if active_property is not None else None
    ctx = _revert_type_scoped(ctx, element, inside_index, type_scoped)
    if property_scoped is not None:
        ctx = ctx.child(property_scoped, propagate=True, override_protected=True)
    ctx, type_key, type_scoped = _prepare_nested(ctx, element)

    rval: dict[str, Any] = {}
    _expand_object(
        cache, ctx, active_property, expanded_active, element, rval, type_key, type_scoped
    )
    return _finish(ctx, element, rval, active_property, expanded_active, inside_list)


def _expand_array(
    cache: ContextCache,
    ctx: ActiveContext,
    active_property: str | None,
    element: list[Any],
    inside_list: bool,
    inside_index: bool,
    type_scoped: ActiveContext | None,
) -> list[Any]:
    info = ctx.term(active_property) if active_property is not None else None
    inside_list = inside_list or (info is not None and "@list" in info.container)
    out: list[Any] = []
    drop_scalars = not inside_list and (
        active_property is None or ctx.expand_vocab(active_property) == "@graph"
    )
    for item in element:
        if type(item) in _SCALAR_TYPES:  # inlined scalar branch of _expand
            if not drop_scalars:
                out.append(_expand_value(ctx, active_property, item))
            continue
        e = _expand(cache, ctx, active_property, item, inside_list, inside_index, type_scoped)
        if inside_list and isinstance(e, list):
            raise Unsupported("list of lists")
        if isinstance(e, list):
            out.extend(e)
        elif e is not None:
            out.append(e)
    return out


def _revert_type_scoped(
    ctx: ActiveContext,
    element: dict[str, Any],
    inside_index: bool,
    type_scoped: ActiveContext | None,
) -> ActiveContext:
    """pyld: leave a type-scoped context when entering a node object, unless the
    element is a value object or a subject reference (only small objects are checked)."""
    if type_scoped is None and ctx.previous is not None:
        type_scoped = ctx
    if inside_index:
        return ctx
    if type_scoped is not None and len(element) <= 2 and "@context" not in element:
        for key in sorted(element):
            expanded = type_scoped.expand_vocab(key)
            if expanded == "@value":
                return type_scoped
            if expanded == "@id" and len(element) == 1:
                return ctx
    return ctx.previous if ctx.previous is not None else ctx


def _prepare_nested(
    ctx: ActiveContext, element: dict[str, Any]
) -> tuple[ActiveContext, str | None, ActiveContext]:
    if "@context" in element:
        local = element["@context"]
        if isinstance(local, dict) and len(local) == 1 and "@context" in local:
            raise Unsupported("keyword redefinition")
        ctx = ctx.child(local, propagate=True, override_protected=False, key=context_key(local))
    type_scoped = ctx
    type_key = None
    for key in sorted(element):
        if ctx.expand_vocab(key) != "@type":
            continue
        type_key = type_key or key
        value = element[key]
        types = [t for t in (value if isinstance(value, list) else [value]) if isinstance(t, str)]
        for type_ in sorted(types):
            info = type_scoped.term(type_)
            if info.scoped is not None and info.scoped is not False:
                ctx = ctx.child(info.scoped, propagate=False, override_protected=False)
    return ctx, type_key, type_scoped


def _expand_object(
    cache: ContextCache,
    ctx: ActiveContext,
    active_property: str | None,
    expanded_active: str | None,
    element: dict[str, Any],
    rval: dict[str, Any],
    type_key: str | None,
    type_scoped: ActiveContext,
) -> None:
    is_json_type = _is_json_typed(ctx, element, type_key)
    unexpanded_value: Any = None

    for key in sorted(element):
        if key == "@context":
            continue
        value = element[key]
        info = ctx.term(key)
        ep = info.expanded
        if info.plain and ep is not None and type(value) in _SCALAR_TYPES:
            # The most common entry, inlined: an ordinary property with a JSON scalar.
            expanded_scalar = _expand_scalar(ctx, info, value)
            values = rval.get(ep)
            if values is None:
                rval[ep] = [expanded_scalar]
            else:
                values.append(expanded_scalar)
            continue
        if ep is None:
            raise Unsupported("dropped term")
        if info.keyword:
            if _expand_keyword(ctx, ep, value, rval, expanded_active, type_scoped, is_json_type):
                if ep == "@value":
                    unexpanded_value = value
                continue
        elif not info.absolute:
            raise Unsupported("dropped term")
        expanded_value = _expand_entry(
            cache, ctx, active_property, expanded_active, key, value, info
        )
        if expanded_value is None:
            continue
        _add(rval, ep, expanded_value, ep not in _SINGLE)

    if (
        "@value" in rval
        and not rval.get("@type") == "@json"
        and isinstance(unexpanded_value, (dict, list))
    ):
        raise Unsupported("invalid value object value")


def _is_json_typed(ctx: ActiveContext, element: dict[str, Any], type_key: str | None) -> bool:
    """pyld: the element's first type (under its first @type key) expands to @json."""
    if type_key is None or type_key not in element:
        return False
    t = element[type_key]
    if t and isinstance(t, list):
        t = t[0]
    return isinstance(t, str) and ctx.expand_vocab(t) == "@json"


def _expand_keyword(
    ctx: ActiveContext,
    ep: str,
    value: Any,
    rval: dict[str, Any],
    expanded_active: str | None,
    type_scoped: ActiveContext,
    is_json_type: bool,
) -> bool:
    """A keyword entry: True when handled here, False when it expands like a property."""
    if expanded_active == "@reverse":
        raise Unsupported("@reverse")
    if ep in rval and ep != "@included" and ep != "@type":
        raise Unsupported("colliding keywords")
    handler = _KEYWORD_HANDLERS.get(ep)
    if handler is not None:
        handler(ctx, value, rval, type_scoped, is_json_type)
        return True
    if ep not in _KEYWORD_PROPERTIES:
        # @index, @reverse, @included, @nest, @none, framing keywords ...
        raise Unsupported(f"keyword {ep}")
    if ep == "@graph" and not isinstance(value, (dict, list)):
        raise Unsupported("invalid @graph")
    return False


def _expand_entry(
    cache: ContextCache,
    ctx: ActiveContext,
    active_property: str | None,
    expanded_active: str | None,
    key: str,
    value: Any,
    info: TermInfo,
) -> Any:
    """Expand the value of a non-keyword entry (or @graph/@list/@set), with containers."""
    ep = info.expanded
    term_ctx = ctx
    if info.scoped is not None:
        term_ctx = ctx.child(info.scoped, propagate=True, override_protected=True)
    if term_ctx.term(key).reverse:  # pyld reads the reverse flag from the term's context
        raise Unsupported("reverse property")
    container = info.container
    if container and isinstance(value, dict) and _MAP_CONTAINERS.intersection(container):
        if "@language" not in container:
            raise Unsupported("index/id/type map")
        expanded: Any = _expand_language_map(term_ctx, value, info.direction)
    elif ep == "@list" or ep == "@set":
        is_list = ep == "@list"
        next_ap = None if is_list and expanded_active == "@graph" else active_property
        expanded = _expand(cache, term_ctx, next_ap, value, is_list, False, None)
    elif info.is_json:
        expanded = {"@type": "@json", "@value": value}
    elif type(value) in _SCALAR_TYPES:  # inlined scalar branch of _expand
        expanded = None if ep == "@graph" else _expand_value(term_ctx, key, value)
    else:
        expanded = _expand(cache, term_ctx, key, value, False, False, None)
    if expanded is None:
        return None
    if (
        ep != "@list"
        and "@list" in container
        and not (isinstance(expanded, dict) and "@list" in expanded)
    ):
        expanded = {"@list": expanded if isinstance(expanded, list) else [expanded]}
    if "@graph" in container and "@id" not in container and "@index" not in container:
        expanded = [
            {"@graph": [v]} for v in (expanded if isinstance(expanded, list) else [expanded])
        ]
    return expanded


def _kw_id(
    ctx: ActiveContext,
    value: Any,
    rval: dict[str, Any],
    type_scoped: ActiveContext,
    is_json_type: bool,
) -> None:
    if not isinstance(value, str):
        raise Unsupported("invalid @id")
    rval["@id"] = expand_iri(ctx, value, vocab=False, base=True)


def _kw_type(
    ctx: ActiveContext,
    value: Any,
    rval: dict[str, Any],
    type_scoped: ActiveContext,
    is_json_type: bool,
) -> None:
    if value is None or isinstance(value, dict):
        raise Unsupported("invalid @type")
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in values):
        raise Unsupported("invalid @type")
    # Type values are expanded with the context from before type-scoped contexts.
    _add(rval, "@type", [expand_iri(type_scoped, v, vocab=True, base=True) for v in values], False)


def _kw_value(
    ctx: ActiveContext,
    value: Any,
    rval: dict[str, Any],
    type_scoped: ActiveContext,
    is_json_type: bool,
) -> None:
    if isinstance(value, list) and not is_json_type:
        raise Unsupported("array @value")
    rval["@value"] = value


def _kw_language(
    ctx: ActiveContext,
    value: Any,
    rval: dict[str, Any],
    type_scoped: ActiveContext,
    is_json_type: bool,
) -> None:
    if value is None:
        return  # pyld: a null @language is as if absent
    if not isinstance(value, str):
        raise Unsupported("invalid @language")
    rval["@language"] = value.lower()


def _kw_direction(
    ctx: ActiveContext,
    value: Any,
    rval: dict[str, Any],
    type_scoped: ActiveContext,
    is_json_type: bool,
) -> None:
    if value not in ("ltr", "rtl"):
        raise Unsupported("invalid @direction")
    rval["@direction"] = value


_KEYWORD_HANDLERS: dict[
    str, Callable[[ActiveContext, Any, dict[str, Any], ActiveContext, bool], None]
] = {
    "@id": _kw_id,
    "@type": _kw_type,
    "@value": _kw_value,
    "@language": _kw_language,
    "@direction": _kw_direction,
}
# Keywords whose value pyld expands like a property value.
_KEYWORD_PROPERTIES = frozenset(("@graph", "@list", "@set"))
_MAP_CONTAINERS = frozenset(("@language", "@index", "@id", "@type"))


def _expand_language_map(
    ctx: ActiveContext, language_map: dict[str, Any], direction: str | None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key in sorted(language_map):
        expanded_key = ctx.expand_vocab(key)
        values = language_map[key]
        for item in values if isinstance(values, list) else [values]:
            if item is None:
                continue
            if not isinstance(item, str):
                raise Unsupported("invalid language map value")
            val: dict[str, Any] = {"@value": item}
            if expanded_key != "@none":
                val["@language"] = key.lower()
            if direction:
                val["@direction"] = direction
            out.append(val)
    return out


def _expand_value(ctx: ActiveContext, active_property: str | None, value: Any) -> Any:
    """pyld ``_expand_value`` (value is a non-null JSON scalar)."""
    if active_property is None:
        # Only reachable inside a top-level @list: pyld treats it like any property.
        raise Unsupported("value without property")
    return _expand_scalar(ctx, ctx.term(active_property), value)


def _expand_scalar(ctx: ActiveContext, info: TermInfo, value: Any) -> Any:
    ep = info.expanded
    if ep == "@id" or ep == "@type":
        raise Unsupported("keyword as active property")
    type_ = info.type
    if isinstance(value, str):
        if type_ == "@id" or ep == "@graph":
            return {"@id": expand_iri(ctx, value, vocab=False, base=True)}
        if type_ == "@vocab":
            return {"@id": expand_iri(ctx, value, vocab=True, base=True)}
    if ep in KEYWORDS:
        raise Unsupported("scalar under keyword")
    rval: dict[str, Any] = {}
    if type_ is not None and type_ != "@id" and type_ != "@vocab" and type_ != "@none":
        rval["@type"] = type_
    elif isinstance(value, str):
        if info.language is not None:
            rval["@language"] = info.language
        if info.direction is not None:
            rval["@direction"] = info.direction
    rval["@value"] = value
    return rval


def _finish(
    ctx: ActiveContext,
    element: dict[str, Any],
    rval: Any,
    active_property: str | None,
    expanded_active: str | None,
    inside_list: bool,
) -> Any:
    """The checks and simplifications at the end of pyld ``_expand`` for objects."""
    count = len(rval)
    if "@value" in rval:
        rval = _finish_value_object(ctx, element, rval, count)
    elif "@type" in rval:
        if not isinstance(rval["@type"], list):
            rval["@type"] = [rval["@type"]]
    elif "@set" in rval or "@list" in rval:
        if count > 1:
            raise Unsupported("invalid set or list object")
        if "@set" in rval:
            rval = rval["@set"]
            count = len(rval)
    elif count == 1 and "@language" in rval:
        rval = None

    if (
        isinstance(rval, dict)
        and not inside_list
        and (active_property is None or expanded_active == "@graph")
        and (count == 0 or "@value" in rval or "@list" in rval or (count == 1 and "@id" in rval))
    ):
        rval = None
    return rval


def _finish_value_object(
    ctx: ActiveContext, element: dict[str, Any], rval: dict[str, Any], count: int
) -> dict[str, Any] | None:
    if "@type" in rval and ("@language" in rval or "@direction" in rval):
        raise Unsupported("invalid value object")
    extra = count - 1 - sum(k in rval for k in ("@type", "@index", "@language", "@direction"))
    if extra != 0:
        raise Unsupported("invalid value object")
    types: list[Any] = []
    if "@type" in rval:
        if any(ctx.expand_vocab(k) == "@type" and isinstance(v, list) for k, v in element.items()):
            raise Unsupported("invalid typed value")
        if rval["@type"] is None:
            del rval["@type"]
        else:
            t = rval["@type"]
            types = t if isinstance(t, list) else [t]
    if "@json" in types and len(types) == 1:
        return rval
    if rval["@value"] is None:
        return None
    if "@language" in rval and not isinstance(rval["@value"], str):
        raise Unsupported("invalid language-tagged value")
    if types and not all(
        isinstance(t, str) and _absolute(t) and not t.startswith("_:") for t in types
    ):
        raise Unsupported("invalid typed value")
    return rval
