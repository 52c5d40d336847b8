"""RDFC-1.0 proper on tricky graphs: canon.rdfc.canonize_nquads vs pyld normalize.

Blank-node cycles, symmetric (automorphic) structures, blank-node graph names and
self-loops are where RDFC-1.0 needs Hash N-Degree Quads and permutations; the
output must equal pyld's ``normalize(..., inputFormat="application/n-quads")`` byte
for byte, must not depend on the input's blank node labels or quad order, and a
poison graph must hit the work bound instead of running for hours.
"""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from ler_crypto.canon.rdfc import canonize_nquads
from ler_crypto.errors import MalformedInputError
from pyld import jsonld  # type: ignore[import-untyped]

P = "<http://example.org/p>"
Q = "<http://example.org/q>"


def _pyld(nquads: str) -> str:
    return str(
        jsonld.normalize(
            nquads,
            {
                "algorithm": "URDNA2015",
                "inputFormat": "application/n-quads",
                "format": "application/n-quads",
            },
        )
    )


def _ring(prefix: str, n: int, pred: str = P, graph: str = "") -> list[str]:
    g = f" {graph}" if graph else ""
    return [f"_:{prefix}{i} {pred} _:{prefix}{(i + 1) % n}{g} .\n" for i in range(n)]


def _clique(prefix: str, n: int) -> list[str]:
    return [f"_:{prefix}{i} {P} _:{prefix}{j} .\n" for i in range(n) for j in range(n) if i != j]


TRICKY = {
    "single ring of 3": _ring("a", 3),
    "two isomorphic rings": _ring("a", 3) + _ring("b", 3),
    "rings of different length": _ring("a", 3) + _ring("b", 4),
    "ring with a distinguishing literal": [
        *_ring("a", 5),
        '_:a2 <http://example.org/name> "x" .\n',
    ],
    "double circle (two predicates)": _ring("a", 4) + _ring("a", 4, Q),
    "clique of 4": _clique("k", 4),
    "star of identical leaves": [f"_:hub {P} _:leaf{i} .\n" for i in range(4)]
    + [f'_:leaf{i} {Q} "same" .\n' for i in range(4)],
    "self loops": [f"_:s {P} _:s .\n", f"_:t {P} _:t .\n", f"_:s {Q} _:t .\n"],
    "blank node graph names": [
        f"_:x {P} _:y _:g .\n",
        f"_:y {P} _:x _:g .\n",
        f"<http://example.org/d> {P} _:g .\n",
        f"_:g {P} _:g _:g .\n",
    ],
    "named graphs with rings": _ring("a", 3, graph="<http://example.org/g1>")
    + _ring("b", 3, graph="<http://example.org/g2>"),
    "literals needing escapes": [
        '_:a <http://example.org/s> "quote \\" backslash \\\\ tab \\t nl \\n cr \\r" .\n',
        '_:a <http://example.org/l> "Bonjour"@fr .\n',
        '_:a <http://example.org/t> "5"^^<http://www.w3.org/2001/XMLSchema#integer> .\n',
        '_:a <http://example.org/u> "caf\u00e9 \U0001f600" .\n',
    ],
    "no blank nodes": ['<http://example.org/s> <http://example.org/p> "o" .\n'],
    "duplicate quads are one quad": [f"_:a {P} _:b .\n", f"_:a {P} _:b .\n"],
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_tricky_graph_matches_pyld(name: str) -> None:
    nquads = "".join(TRICKY[name])
    assert canonize_nquads(nquads) == _pyld(nquads)


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_result_is_independent_of_labels_and_order(name: str) -> None:
    lines = TRICKY[name]
    expected = canonize_nquads("".join(lines))
    rng = random.Random(20260601)
    for _ in range(5):
        shuffled = lines[:]
        rng.shuffle(shuffled)
        text = "".join(shuffled)
        # rename every blank node label consistently
        for label in sorted(
            {w for line in lines for w in line.split() if w.startswith("_:")}, key=len, reverse=True
        ):
            text = text.replace(label + " ", "_:renamed" + label[2:] + "X ")
        assert canonize_nquads(text) == expected


def test_isomorphic_rings_get_symmetric_labels() -> None:
    out = canonize_nquads("".join(_ring("a", 3) + _ring("b", 3)))
    assert out.count("_:c14n") == 12  # six quads, two blank nodes each
    assert {f"_:c14n{i}" for i in range(6)} <= set(out.split())


def test_poison_graph_hits_the_work_bound_quickly() -> None:
    # A 3-regular-ish symmetric clique: every node has the same first-degree hash and
    # the permutation space explodes (RDFC-1.0 §4.4 "poison graph").
    nquads = "".join(_clique("k", 9))
    start = time.monotonic()
    with pytest.raises(MalformedInputError, match="work bound"):
        canonize_nquads(nquads)
    assert time.monotonic() - start < 60


def test_invalid_nquads_is_malformed() -> None:
    with pytest.raises(MalformedInputError, match="N-Quads"):
        canonize_nquads("this is not n-quads\n")


@st.composite
def _random_graphs(draw: st.DrawFn) -> str:
    nodes = draw(st.integers(min_value=1, max_value=6))
    iris = ["<http://example.org/n1>", "<http://example.org/n2>"]
    preds = [P, Q]
    lines = set()
    for _ in range(draw(st.integers(min_value=1, max_value=10))):
        s = f"_:n{draw(st.integers(0, nodes - 1))}"
        kind = draw(st.sampled_from(["bnode", "bnode", "iri", "literal"]))
        if kind == "bnode":
            o = f"_:n{draw(st.integers(0, nodes - 1))}"
        elif kind == "iri":
            o = draw(st.sampled_from(iris))
        else:
            o = '"' + draw(st.sampled_from(["a", "b", "x y"])) + '"'
        graph = draw(
            st.sampled_from(
                ["", "", f" _:n{draw(st.integers(0, nodes - 1))}", " <http://example.org/g>"]
            )
        )
        if draw(st.booleans()):
            s, o = (o, s) if o.startswith("_:") else (s, o)
        lines.add(f"{s} {draw(st.sampled_from(preds))} {o}{graph} .\n")
    return "".join(sorted(lines))


@seed(20260601)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_random_graphs())
def test_random_blank_node_graphs_match_pyld(nquads: str) -> None:
    assert canonize_nquads(nquads) == _pyld(nquads)
