"""Expanded JSON-LD -> RDF quads, a port of pyld 3.3 ``_create_node_map`` + ``_graph_to_rdf``.

Quads are 4-tuples of N-Quads *terms*: ``'<iri>'``, ``'_:label'`` or a serialized
literal (``'"v"^^<dt>'`` / ``'"v"@lang'`` / ``'"v"'``); the graph term is ``None``
for the default graph. The first character tells the kind of term, which is all
RDFC-1.0 needs.

pyld keeps duplicate quads that come from values it does not consider equal
(``compare_values``: ``@value`` + ``@type`` + ``@language`` + ``@index``), and its
canonical output keeps them too; so duplicates are decided here by the same rule,
not by RDF term equality. Values pyld treats as duplicates serialize identically
(for ``@json`` values this is checked), so which one is kept -- pyld's traversal
order decides -- does not matter and the node map may be built in any order.
Everything pyld would silently drop (relative IRIs, blank-node predicates) is
:class:`Unsupported` -- the reference reports it.
"""

from __future__ import annotations

import math
import re
from numbers import Integral, Real
from typing import Any

# The JCS implementation pyld itself uses for @json literals (identical by construction);
# the c14n package ships inside the pyld wheel.
from c14n.Canonicalize import canonicalize as _c14n_canonicalize  # type: ignore[import-untyped, unused-ignore]

from ler_crypto.canon._context import KEYWORDS, Unsupported, is_absolute_iri

__all__ = ["Quad", "literal_term", "to_quads"]

Quad = tuple[str, str, str, str | None]

XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_BOOLEAN = XSD + "boolean"
XSD_DOUBLE = XSD + "double"
XSD_INTEGER = XSD + "integer"
XSD_STRING = XSD + "string"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDF_LANGSTRING = RDF + "langString"
RDF_JSON = RDF + "JSON"
_TYPE_TERM = "<" + RDF + "type>"
_FIRST_TERM = "<" + RDF + "first>"
_REST_TERM = "<" + RDF + "rest>"
_NIL_TERM = "<" + RDF + "nil>"

# Canonical N-Quads escaping of literals (RDFC-1.0 §4.4.3 step 7 and §4.6.3 use the
# canonical N-Quads form of RDF 1.2 N-Quads / N-Triples): \b \t \n \f \r \" \\ as
# ECHAR, the other C0 controls and U+007F as \uXXXX with uppercase hex, nothing else.
# (pyld 3.3 escapes only five characters; ``canon.reference`` corrects it the same way.)
_ESCAPES = str.maketrans(
    {
        **{chr(c): f"\\u{c:04X}" for c in [*range(0x20), 0x7F]},
        "\b": "\\b",
        "\t": "\\t",
        "\n": "\\n",
        "\f": "\\f",
        "\r": "\\r",
        '"': '\\"',
        "\\": "\\\\",
    }
)
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\\x7f]').search
_DOUBLE_EXP = re.compile(r"(\d)0*E\+?(-)?0*(\d)")


def literal_term(value: str, datatype: str, language: str | None = None) -> str:
    """Canonical N-Quads term of a literal (pyld ``serialize_nquad``, corrected escaping)."""
    if _NEEDS_ESCAPE(value) is not None:
        value = value.translate(_ESCAPES)
    if datatype == RDF_LANGSTRING:
        return f'"{value}"@{language}' if language else f'"{value}"'
    if datatype == XSD_STRING:
        return f'"{value}"'
    return f'"{value}"^^<{datatype}>'


def _canonical_double(value: Any) -> str:
    # pyld _canonicalize_double
    return _DOUBLE_EXP.sub(r"\1E\2\3", f"{value:1.15E}")


def _is_integer(v: Any) -> bool:
    # pyld _is_integer
    return isinstance(v, Integral) or (isinstance(v, Real) and float(v).is_integer())


def _is_double(v: Any) -> bool:
    # pyld _is_double
    return not isinstance(v, Integral) and isinstance(v, Real) and not float(v).is_integer()


class _Issuer:
    """pyld IdentifierIssuer('_:b') (only the mapping is needed here)."""

    __slots__ = ("counter", "existing")

    def __init__(self) -> None:
        self.counter = 0
        self.existing: dict[str, str] = {}

    def new(self) -> str:
        label = f"_:b{self.counter}"
        self.counter += 1
        return label

    def get(self, old: str) -> str:
        label = self.existing.get(old)
        if label is None:
            label = self.existing[old] = self.new()
        return label


def _value_key(item: dict[str, Any]) -> Any:
    """A hashable key equal exactly when pyld ``compare_values`` says equal.

    ``None`` for a structured ``@json`` value, which pyld compares with Python ``==``
    (so ``{"a": 1}`` equals ``{"a": 1.0}`` and ``{"a": true}``): those are compared
    the same way, linearly.
    """
    if "@value" in item:
        v = item["@value"]
        if type(v) is str:
            return ("v", item.get("@type"), item.get("@language"), item.get("@index"), ("s", v))
        if isinstance(v, bool):
            vk: Any = ("b", v)
        elif isinstance(v, str):
            vk = ("s", v)
        elif isinstance(v, (int, float)):
            if isinstance(v, float) and not math.isfinite(v):
                raise Unsupported("non-finite number")
            vk = ("n", v)  # 1 == 1.0 in pyld's _strict_eq and in Python hashing
        else:
            return None  # structured @json value: compared with == (see _NodeMap.add)
        t = item.get("@type")
        return ("v", t, item.get("@language"), item.get("@index"), vk)
    return ("i", item["@id"])


def _same_structured(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """pyld ``compare_values`` for a value object whose ``@value`` is a dict or list.

    Python ``==`` also equates ``1``, ``1.0`` and ``true`` inside them; which of two
    such values pyld keeps depends on its traversal order, so that case is left to
    the reference.
    """
    if "@value" not in old:
        return False
    same = (new.get("@type"), new.get("@language"), new.get("@index")) == (
        old.get("@type"),
        old.get("@language"),
        old.get("@index"),
    ) and new["@value"] == old["@value"]
    if same:
        try:
            identical = _c14n_canonicalize(new["@value"]) == _c14n_canonicalize(old["@value"])
        except (TypeError, ValueError, RecursionError) as err:
            raise Unsupported("@json value") from err
        if not identical:
            raise Unsupported("@json values equal only under Python ==")
    return same


# A node in the node map: property -> [values, duplicate keys (None until needed)].
_Node = dict[str, list[Any]]


class _NodeMap:
    """pyld node map, storing per (graph, subject) the property values and their keys."""

    def __init__(self) -> None:
        self.issuer = _Issuer()
        # graph -> subject -> property -> (values, keys); '@default' is the default graph
        self.graphs: dict[str, dict[str, _Node]] = {"@default": {}}

    def add(self, node: _Node, prop: str, value: Any, dedupe: bool) -> None:
        """pyld ``add_value`` into the node map (``allowDuplicate=not dedupe``).

        Most properties hold one value, so the duplicate keys of a property are only
        computed once it receives a second value.
        """
        entry = node.get(prop)
        if entry is None:
            node[prop] = [[value], None]
            return
        values: list[Any] = entry[0]
        if dedupe:
            keys: set[Any] | None = entry[1]
            if keys is None:
                keys = entry[1] = {
                    k for k in (_value_key(v) for v in values if "@list" not in v) if k is not None
                }
            key = _value_key(value)
            if key is None:
                if any(_same_structured(value, v) for v in values):
                    return
            elif key in keys:
                return
            else:
                keys.add(key)
        values.append(value)

    def walk(
        self,
        input_: Any,
        graph: str,
        active_subject: str | None = None,
        active_property: str | None = None,
        list_: list[Any] | None = None,
    ) -> None:
        if isinstance(input_, list):
            for e in input_:
                self.walk(e, graph, active_subject, active_property, list_)
            return
        nodes = self.graphs.setdefault(graph, {})
        subject_node = nodes.get(active_subject) if active_subject is not None else None
        if "@value" in input_ or "@list" in input_ or "@set" in input_:
            self._walk_value(input_, graph, subject_node, active_subject, active_property, list_)
            return
        id_ = input_.get("@id")
        if id_ is None or id_.startswith("_:"):
            id_ = self.issuer.new() if id_ is None else self.issuer.get(id_)
        node = nodes.get(id_)
        if node is None:
            node = nodes[id_] = {}
        if active_property is not None:
            ref = {"@id": id_}
            if list_ is not None:
                list_.append(ref)
            elif subject_node is not None:
                self.add(subject_node, active_property, ref, True)
        self._walk_properties(input_, node, id_, graph)

    def _walk_value(
        self,
        input_: dict[str, Any],
        graph: str,
        subject_node: _Node | None,
        active_subject: str | None,
        active_property: str | None,
        list_: list[Any] | None,
    ) -> None:
        """Value and list objects: added to the subject (or the enclosing list)."""
        if "@value" in input_:
            if list_ is not None:
                list_.append(input_)
            elif subject_node is not None and active_property is not None:
                self.add(subject_node, active_property, input_, True)
            return
        if "@set" in input_:
            raise Unsupported("@set object in node map")
        items: list[Any] = []
        self.walk(input_["@list"], graph, active_subject, active_property, items)
        if list_ is not None:
            raise Unsupported("list of lists")
        if subject_node is not None and active_property is not None:
            self.add(subject_node, active_property, {"@list": items}, False)

    def _walk_properties(
        self,
        input_: dict[str, Any],
        node: _Node,
        id_: str,
        graph: str,
    ) -> None:
        for prop, objects in input_.items():
            if prop[0] != "@" and not prop.startswith("_:"):  # an ordinary property
                for o in objects:
                    if "@value" in o:  # inlined walk() of a value object under this node
                        self.add(node, prop, o, True)
                    else:
                        self.walk(o, graph, id_, prop)
            elif prop == "@id":
                continue
            elif prop == "@graph":
                self.graphs.setdefault(id_, {})
                self.walk(objects, id_)
            elif prop == "@type":
                for t in objects:
                    if not isinstance(t, str) or t.startswith("_:"):
                        raise Unsupported("blank node or invalid type")
                    self.add(node, "@type", {"@id": t}, True)
            elif prop in KEYWORDS:
                if prop not in ("@language", "@direction"):  # copied by pyld, never serialized
                    raise Unsupported(f"node keyword {prop}")
            else:
                raise Unsupported("blank node property")


def to_quads(expanded: list[Any]) -> list[Quad]:
    """pyld ``to_rdf`` (node map, then ``_graph_to_rdf`` per graph) as quads."""
    node_map = _NodeMap()
    node_map.walk(expanded, "@default")
    issuer = node_map.issuer
    quads: list[Quad] = []
    for graph_name, nodes in node_map.graphs.items():
        if graph_name == "@default":
            g: str | None = None
        elif not nodes:
            continue
        elif graph_name.startswith("_:"):
            g = graph_name
        elif is_absolute_iri(graph_name):
            g = "<" + graph_name + ">"
        else:
            raise Unsupported("relative graph name")
        for id_, node in nodes.items():
            if not node:
                continue
            if id_.startswith("_:"):
                s = id_
            elif is_absolute_iri(id_):
                s = "<" + id_ + ">"
            else:
                raise Unsupported("relative subject")
            for prop, (items, _keys) in node.items():
                p = _TYPE_TERM if prop == "@type" else _iri_term(prop)
                for item in items:
                    o = _literal(item) if "@value" in item else _object_term(item, issuer, quads, g)
                    quads.append((s, p, o, g))
    return quads


_IRI_TERMS: dict[str, str] = {}


def _iri_term(iri: str) -> str:
    term = _IRI_TERMS.get(iri)
    if term is not None:
        return term
    if iri.startswith("_:"):
        return iri
    if not is_absolute_iri(iri):
        raise Unsupported("relative IRI object")
    term = "<" + iri + ">"
    if len(_IRI_TERMS) < 8192:  # vocabulary and type IRIs repeat across documents
        _IRI_TERMS[iri] = term
    return term


def _object_term(item: dict[str, Any], issuer: _Issuer, quads: list[Quad], g: str | None) -> str:
    """pyld ``_object_to_rdf`` (rdfDirection unset, processingMode json-ld-1.1)."""
    if "@value" in item:
        return _literal(item)
    if "@list" in item:
        return _list_term(item["@list"], issuer, quads, g)
    return _iri_term(item["@id"])


def _literal(item: dict[str, Any]) -> str:
    """The value-object branch of pyld ``_object_to_rdf``."""
    value = item["@value"]
    datatype = item.get("@type")
    # Fast path for the common exact types; everything else takes the general port
    # below (bool before int there: bool is an int subclass).
    kind = type(value)
    if (kind is str or kind is int) and datatype != "@json" and datatype != XSD_DOUBLE:
        if kind is str:
            return _string_literal(value, datatype, item)
        if abs(value) < 10**21:
            return literal_term(str(value), datatype or XSD_INTEGER)
    if datatype == "@json":
        try:
            return literal_term(_c14n_canonicalize(value).decode("utf-8"), RDF_JSON)
        except (TypeError, ValueError, RecursionError) as err:
            raise Unsupported("@json value") from err
    if isinstance(value, bool):
        return literal_term("true" if value else "false", datatype or XSD_BOOLEAN)
    if isinstance(value, float) and not math.isfinite(value):
        raise Unsupported("non-finite number")
    if _is_double(value):
        return literal_term(_canonical_double(value), datatype or XSD_DOUBLE)
    if datatype == XSD_DOUBLE:
        return _double_from_lexical(value)
    if _is_integer(value):
        if abs(value) >= 1e21:
            return literal_term(_canonical_double(value), datatype or XSD_DOUBLE)
        return literal_term(str(int(value)), datatype or XSD_INTEGER)
    return _string_literal(value, datatype, item)


def _string_literal(value: str, datatype: str | None, item: dict[str, Any]) -> str:
    if "@language" in item:
        return literal_term(value, datatype or RDF_LANGSTRING, item["@language"])
    return literal_term(value, datatype or XSD_STRING)


def _double_from_lexical(value: Any) -> str:
    """pyld: an xsd:double-typed value that is not a float is re-canonicalized if it parses."""
    try:
        float_value = float(value)
    except (ValueError, TypeError):
        return literal_term(value, XSD_DOUBLE)
    if not math.isfinite(float_value):
        raise Unsupported("non-finite number")
    return literal_term(_canonical_double(float_value), XSD_DOUBLE)


def _list_term(items: list[Any], issuer: _Issuer, quads: list[Quad], g: str | None) -> str:
    """pyld ``_list_to_rdf``: an rdf:first/rdf:rest chain of fresh blank nodes."""
    if not items:
        return _NIL_TERM
    head = subject = issuer.new()
    last = len(items) - 1
    for i, item in enumerate(items):
        o = _object_term(item, issuer, quads, g)
        nxt = _NIL_TERM if i == last else issuer.new()
        quads.append((subject, _FIRST_TERM, o, g))
        quads.append((subject, _REST_TERM, nxt, g))
        subject = nxt
    return head
