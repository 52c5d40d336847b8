"""Skills-first matching: which verified credential evidences which requirement, and a score.

Rules (also spelled out in every explanation):
- a requirement is evidenced by a credential that counts (verified, not revoked or suspended)
  and aligns to the requirement's skill (exact framework code first); only when no credential
  does, by one aligning to a declared equivalent;
- credentials that failed verification (or self-asserted claims) never evidence a skill: they
  are listed as "claimed, unverified" and add nothing to the score; so are verified ones from
  an issuer outside the opportunity's own trusted issuers, when it names any;
- score = 0.8 x (evidenced required weight / required weight)
        + 0.2 x (evidenced preferred weight / preferred weight);
  when only one group exists it carries the whole score; with no requirements it is 1.0.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ler_intake.domain.application import Evidence, MatchResult, SkillMatch
from ler_intake.domain.skills import Skill, SkillRequirement

REQUIRED_SHARE = 0.8
PREFERRED_SHARE = 0.2


def _aligned(evidence: Sequence[Evidence], skill: Skill) -> tuple[str, ...]:
    return tuple(e.credential_id for e in evidence if any(s.same_as(skill) for s in e.skills))


def _counts(e: Evidence, trusted: Collection[str]) -> bool:
    return e.counts and (not trusted or e.issuer_id in trusted)


def _match_one(
    req: SkillRequirement,
    required: bool,
    index: int,
    evidence: Sequence[Evidence],
    trusted: Collection[str],
) -> SkillMatch:
    counting = [e for e in evidence if _counts(e, trusted)]
    others = [e for e in evidence if not _counts(e, trusted)]
    via = "exact"
    ids = _aligned(counting, req.skill)
    if not ids:
        via = "equivalent"
        ids = tuple(dict.fromkeys(i for eq in req.equivalents for i in _aligned(counting, eq)))
    unverified = _aligned(others, req.skill) + tuple(
        i for eq in req.equivalents for i in _aligned(others, eq)
    )
    return SkillMatch(
        label=req.skill.display,
        required=required,
        weight=req.weight or 1.0,
        evidenced=bool(ids),
        credential_ids=ids,
        via=via if ids else "",
        unverified_credential_ids=tuple(dict.fromkeys(unverified)),
        requirement_index=index,
    )


def _share(matches: Sequence[SkillMatch]) -> float | None:
    total = sum(m.weight for m in matches)
    if not matches or total <= 0:
        return None
    return sum(m.weight for m in matches if m.evidenced) / total


def _score(required: Sequence[SkillMatch], preferred: Sequence[SkillMatch]) -> float:
    req, pref = _share(required), _share(preferred)
    if req is None and pref is None:
        return 1.0
    if req is None:
        return round(pref or 0.0, 4)
    if pref is None:
        return round(req, 4)
    return round(REQUIRED_SHARE * req + PREFERRED_SHARE * pref, 4)


def _explain(
    required: Sequence[SkillMatch],
    preferred: Sequence[SkillMatch],
    evidence: Sequence[Evidence],
    trusted: Collection[str],
) -> str:
    used = {i for m in (*required, *preferred) for i in m.credential_ids}
    parts = [
        f"{sum(m.evidenced for m in required)} of {len(required)} required skills evidenced"
        f" by {len(used)} verified credential{'s' if len(used) != 1 else ''}"
    ]
    if preferred:
        parts.append(f"{sum(m.evidenced for m in preferred)} of {len(preferred)} preferred")
    missing = [m.label for m in required if not m.evidenced]
    if missing:
        parts.append("missing: " + ", ".join(missing))
    equivalent = [m.label for m in (*required, *preferred) if m.via == "equivalent"]
    if equivalent:
        parts.append("via declared equivalents: " + ", ".join(equivalent))
    claimed = [
        m.label for m in (*required, *preferred) if not m.evidenced and m.unverified_credential_ids
    ]
    if claimed:
        parts.append("claimed only by unverified credentials (not counted): " + ", ".join(claimed))
    not_counting = [e for e in evidence if not e.counts]
    if not_counting:
        parts.append(
            f"{len(not_counting)} credential(s) not counted (unverified, revoked or suspended)"
        )
    untrusted = [e for e in evidence if e.counts and not _counts(e, trusted)]
    if untrusted:
        parts.append(
            f"{len(untrusted)} credential(s) not counted (issuer not among this opportunity's"
            " trusted issuers)"
        )
    return "; ".join(parts)


def match(
    required: Sequence[SkillRequirement],
    preferred: Sequence[SkillRequirement],
    evidence: Sequence[Evidence],
    trusted_issuers: Collection[str] = (),
) -> MatchResult:
    """Match ``evidence`` against the requirements (see the module docstring);
    ``trusted_issuers``, when not empty, are the only issuers whose credentials count."""
    trusted = frozenset(trusted_issuers)
    req = [_match_one(r, True, i, evidence, trusted) for i, r in enumerate(required)]
    pref = [_match_one(r, False, i, evidence, trusted) for i, r in enumerate(preferred)]
    return MatchResult(_score(req, pref), tuple(req + pref), _explain(req, pref, evidence, trusted))
