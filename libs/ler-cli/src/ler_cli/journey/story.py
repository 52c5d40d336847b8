"""Who is in the story and what they hold: institutions, the learner, the skills, the job.

Skills are aligned to a public framework (O*NET-style codes, Open Badges 3.0 §B.1.2
``Alignment``: ``targetFramework``, ``targetCode``, ``targetName``, ``targetUrl``).
"""

from __future__ import annotations

from ler.common.v1 import skills_pb2 as spb

FRAMEWORK = "O*NET OnLine"
FRAMEWORK_URL = "https://www.onetonline.org/find/descriptor/result/"

UNIVERSITY = ("Riverside State University", "https://riverside.example.edu")
TRAINING_PROVIDER = ("Northwind Skills Academy", "https://northwind.example.org")
EMPLOYER = ("Contoso Analytics", "https://contoso.example.com")
LEARNER = ("Ada Lovelace", "ada.lovelace@example.org")

#: The training provider's six skill badges: (framework code, skill name).
SKILLS = (
    ("2.A.2.a", "Critical Thinking"),
    ("2.B.3.e", "Programming"),
    ("2.A.1.e", "Mathematics"),
    ("2.B.1.a", "Social Perceptiveness"),
    ("2.B.3.a", "Operations Analysis"),
    ("2.A.2.d", "Monitoring"),
)
#: The four skills the employer's job asks for (and no degree).
JOB_SKILLS = ("2.A.2.a", "2.B.3.e", "2.A.1.e", "2.B.3.a")
#: The badge the training provider revokes at the end (one the application relies on).
REVOKED_SKILL = "2.B.3.e"
#: The badge the learner features, and the tag put on the job's badges.
FEATURED_SKILL = "2.B.3.e"
JOB_TAG = "data-analyst"


def alignment(code: str) -> spb.SkillAlignment:
    """The framework alignment of one of ``SKILLS``."""
    label = dict(SKILLS)[code]
    return spb.SkillAlignment(
        framework=FRAMEWORK,
        code=code,
        url=f"{FRAMEWORK_URL}{code}",
        label=label,
        target_type=spb.ALIGNMENT_TARGET_TYPE_CEASN_COMPETENCY,
    )
