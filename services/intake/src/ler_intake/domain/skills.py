"""Skills and skill requirements (OB 3.0 §B.1.3 Alignment), and when two name the same skill."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Skill:
    """A skill in a public framework (an OB ``Alignment`` / ``ler.common.v1.SkillAlignment``)."""

    label: str
    framework: str = ""
    code: str = ""
    url: str = ""

    def same_as(self, other: Skill) -> bool:
        """Two alignments name the same skill when framework and code are equal
        (case-insensitively), or, when either has no code, when their URLs are equal
        (the rule stated on ``ler.common.v1.SkillAlignment``)."""
        if self.code and other.code:
            return (
                self.framework.casefold() == other.framework.casefold()
                and self.code.casefold() == other.code.casefold()
            )
        return bool(self.url) and self.url == other.url

    @property
    def display(self) -> str:
        """How a reviewer reads it: the label, else framework:code, else the URL."""
        return self.label or (f"{self.framework}:{self.code}" if self.code else self.url)


@dataclass(frozen=True, slots=True)
class SkillRequirement:
    """One skill an opportunity asks for, its weight, and the skills it accepts instead
    (declared equivalents, e.g. the same competency in another framework)."""

    skill: Skill
    weight: float = 1.0
    equivalents: tuple[Skill, ...] = ()
