"""Subcommand groups. Each module exposes ``register(subparsers)``; later issues add groups
(``ler issuer ...``, ``ler wallet ...``) by adding a module and listing it in ``GROUPS``."""

from __future__ import annotations

from ler_cli.commands import bench, demo, institution, learner, ops, provider, vc

GROUPS = (vc, bench, demo, institution, learner, provider, ops)
