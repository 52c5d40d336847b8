"""RDF Dataset Canonicalization (RDFC-1.0), an optimised port of pyld 3.3 ``URDNA2015``.

Works on quads of pre-serialized N-Quads terms (see ``_to_rdf``). Step numbers in
comments are those of RDFC-1.0 §4.4-§4.8 (W3C Recommendation 2024-05-21), which
pyld's ``URDNA2015`` follows. The output equals the reference
(``canon.reference``: pyld with its canonical-escaping and dataset corrections):

* a quad is listed once per blank-node *occurrence* in the blank node to quads
  map (a quad ``_:x <p> _:x .`` is hashed twice for ``_:x``), as pyld does;
* the input is a *set* (RDF 1.1 Concepts §4): duplicate quads are removed first;
* literals are in canonical N-Quads form (``_to_rdf.literal_term``), both in the
  output and in what Hash First Degree Quads hashes.

RDFC-1.0 §4.4 ("a poison graph ... implementations SHOULD limit") is honoured with a
work bound: Hash N-Degree Quads calls are limited to the reference implementation's
``MAX_DEEP_ITERATIONS`` and permutations to :data:`MAX_PERMUTATIONS`; past either,
:class:`~ler_crypto.errors.MalformedInputError` is raised instead of running for hours.
"""

from __future__ import annotations

from collections.abc import Iterator
from hashlib import sha256

from ler_crypto.canon._to_rdf import Quad
from ler_crypto.errors import MalformedInputError

__all__ = ["MAX_PERMUTATIONS", "canonicalize_quads"]

#: Upper bound on permutations examined by Hash N-Degree Quads (step 5.4) per dataset.
MAX_PERMUTATIONS = 20_000


class _Issuer:
    """Identifier issuer (RDFC-1.0 §4.3) with a cheap copy."""

    __slots__ = ("existing", "order", "prefix")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.existing: dict[str, str] = {}
        self.order: list[str] = []

    def issue(self, old: str) -> str:
        label = self.existing.get(old)
        if label is None:
            label = self.existing[old] = f"{self.prefix}{len(self.order)}"
            self.order.append(old)
        return label

    def copy(self) -> _Issuer:
        other = _Issuer.__new__(_Issuer)
        other.prefix = self.prefix
        other.existing = self.existing.copy()
        other.order = self.order.copy()
        return other


def _serialize(q: Quad) -> str:
    s, p, o, g = q
    if g is None:
        return f"{s} {p} {o} .\n"
    return f"{s} {p} {o} {g} .\n"


class _State:
    def __init__(self, quads: list[Quad], max_calls: int) -> None:
        self.quads = quads
        self.bnode_quads: dict[str, list[Quad]] = {}
        self.first_degree: dict[str, str] = {}
        self.canonical = _Issuer("_:c14n")
        self.calls_left = max_calls
        self.permutations_left = MAX_PERMUTATIONS
        # 2) blank node to quads map: one entry per occurrence (s, o, g), as pyld does.
        bq = self.bnode_quads
        for q in quads:
            s, _p, o, g = q
            if s[0] == "_":
                bq.setdefault(s, []).append(q)
            if o[0] == "_":
                bq.setdefault(o, []).append(q)
            if g is not None and g[0] == "_":
                bq.setdefault(g, []).append(q)

    # 4.6 Hash First Degree Quads
    def hash_first_degree(self, id_: str) -> str:
        cached = self.first_degree.get(id_)
        if cached is not None:
            return cached
        nquads = []
        for s, p, o, g in self.bnode_quads[id_]:
            if s[0] == "_":
                s = "_:a" if s == id_ else "_:z"
            if o[0] == "_":
                o = "_:a" if o == id_ else "_:z"
            if g is None:
                nquads.append(f"{s} {p} {o} .\n")
            else:
                if g[0] == "_":
                    g = "_:a" if g == id_ else "_:z"
                nquads.append(f"{s} {p} {o} {g} .\n")
        nquads.sort()
        digest = sha256("".join(nquads).encode("utf-8")).hexdigest()
        self.first_degree[id_] = digest
        return digest

    # 4.7 Hash Related Blank Node
    def hash_related(self, related: str, p: str, issuer: _Issuer, position: str) -> str:
        label = self.canonical.existing.get(related)
        if label is None:
            label = issuer.existing.get(related)
            if label is None:
                label = self.hash_first_degree(related)
        if position == "g":
            data = position + label
        else:
            data = position + p + label
        return sha256(data.encode("utf-8")).hexdigest()

    def hash_to_related(self, id_: str, issuer: _Issuer) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for s, p, o, g in self.bnode_quads[id_]:
            if s[0] == "_" and s != id_:
                result.setdefault(self.hash_related(s, p, issuer, "s"), []).append(s)
            if o[0] == "_" and o != id_:
                result.setdefault(self.hash_related(o, p, issuer, "o"), []).append(o)
            if g is not None and g[0] == "_" and g != id_:
                result.setdefault(self.hash_related(g, p, issuer, "g"), []).append(g)
        return result

    # 4.8 Hash N-Degree Quads
    def hash_n_degree(self, id_: str, issuer: _Issuer) -> tuple[str, _Issuer]:
        self.calls_left -= 1
        if self.calls_left < 0:
            raise MalformedInputError(
                "RDF canonicalization exceeded its work bound (too many indistinguishable "
                "blank nodes: possible poison graph)"
            )
        md = sha256()
        # 5) related hashes in code point order
        for related_hash, blank_nodes in sorted(self.hash_to_related(id_, issuer).items()):
            md.update(related_hash.encode("utf-8"))
            chosen_path, chosen_issuer = self._choose_path(blank_nodes, issuer)
            md.update(chosen_path.encode("utf-8"))
            issuer = chosen_issuer  # 5.6
        return md.hexdigest(), issuer

    def _choose_path(self, blank_nodes: list[str], issuer: _Issuer) -> tuple[str, _Issuer]:
        """Steps 5.2-5.4: the lexicographically least path over all permutations."""
        chosen_path = ""
        chosen_issuer = issuer
        for permutation in _permutations(blank_nodes):
            self.permutations_left -= 1
            if self.permutations_left < 0:
                raise MalformedInputError(
                    "RDF canonicalization exceeded its work bound (too many blank node "
                    "permutations: possible poison graph)"
                )
            found = self._permutation_path(permutation, issuer, chosen_path)
            if found is not None and (not chosen_path or found[0] < chosen_path):
                chosen_path, chosen_issuer = found  # 5.4.6
        return chosen_path, chosen_issuer

    def _permutation_path(
        self, permutation: list[str], issuer: _Issuer, chosen_path: str
    ) -> tuple[str, _Issuer] | None:
        """Steps 5.4.1-5.4.5; None when the path cannot beat ``chosen_path``."""
        canonical = self.canonical.existing
        issuer_copy = issuer.copy()
        path = ""
        recursion_list: list[str] = []
        for related in permutation:
            label = canonical.get(related)
            if label is not None:
                path += label
            else:
                if related not in issuer_copy.existing:
                    recursion_list.append(related)
                path += issuer_copy.issue(related)
            if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                return None
        for related in recursion_list:
            result_hash, result_issuer = self.hash_n_degree(related, issuer_copy)
            path += issuer_copy.issue(related)
            path += "<" + result_hash + ">"
            issuer_copy = result_issuer
            if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                return None
        return path, issuer_copy


def _permutations(elements: list[str]) -> Iterator[list[str]]:
    """pyld ``canon.permutations`` (Steinhaus-Johnson-Trotter over the sorted list).

    Kept verbatim in behaviour, including its handling of repeated elements, so the
    chosen path -- and therefore the canonical labels -- match pyld's.
    """
    elements.sort()
    left = dict.fromkeys(elements, True)
    length = len(elements)
    last = length - 1
    while True:
        yield elements
        k = None
        pos = 0
        for i in range(length):
            e = elements[i]
            is_left = left[e]
            if (k is None or e > k) and (
                (is_left and i > 0 and e > elements[i - 1])
                or (not is_left and i < last and e > elements[i + 1])
            ):
                k, pos = e, i
        if k is None:
            return
        swap = pos - 1 if left[k] else pos + 1
        elements[pos], elements[swap] = elements[swap], k
        for i in range(length):
            if elements[i] > k:
                left[elements[i]] = not left[elements[i]]


def canonicalize_quads(quads: list[Quad], max_deep_iterations: int) -> str:
    """RDFC-1.0 §4.4: canonical N-Quads (sorted lines) of the *set* of ``quads``.

    Quads are compared as serialized terms, which is RDF term equality because the
    literal serialization is canonical (one lexical escape form per string).
    """
    quads = list(dict.fromkeys(quads))  # an RDF dataset is a set: drop duplicates
    state = _State(quads, max_deep_iterations)
    if not state.bnode_quads:
        return "".join(sorted(_serialize(q) for q in quads))
    _issue_canonical_labels(state)
    return _relabel_and_serialize(quads, state.canonical.existing)


def _issue_canonical_labels(state: _State) -> None:
    canonical = state.canonical
    # 5.3 / 5.4) hash first-degree quads; unique hashes get canonical labels in order.
    hash_to_bnodes: dict[str, list[str]] = {}
    for id_ in state.bnode_quads:
        hash_to_bnodes.setdefault(state.hash_first_degree(id_), []).append(id_)
    shared: list[list[str]] = []
    for _digest, ids in sorted(hash_to_bnodes.items()):
        if len(ids) == 1:
            canonical.issue(ids[0])
        else:
            shared.append(ids)

    # 6) groups of blank nodes sharing a first-degree hash, in hash order: Hash
    # N-Degree Quads for each, then issue in the order of the resulting hashes.
    for ids in shared:
        results: list[tuple[str, _Issuer]] = []
        for id_ in ids:
            if id_ in canonical.existing:
                continue
            temporary = _Issuer("_:b")
            temporary.issue(id_)
            results.append(state.hash_n_degree(id_, temporary))
        results.sort(key=lambda r: r[0])
        for _hash, issuer in results:
            for existing in issuer.order:
                canonical.issue(existing)


def _relabel_and_serialize(quads: list[Quad], labels: dict[str, str]) -> str:
    # 7) relabel and serialize (sorted lines; duplicates were removed up front).
    lines = []
    for s, p, o, g in quads:
        if s[0] == "_":
            s = labels[s]
        if o[0] == "_":
            o = labels[o]
        if g is None:
            lines.append(f"{s} {p} {o} .\n")
        else:
            if g[0] == "_":
                g = labels[g]
            lines.append(f"{s} {p} {o} {g} .\n")
    lines.sort()
    return "".join(lines)
