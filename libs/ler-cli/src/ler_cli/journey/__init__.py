"""The learner's journey on the four services (issue 9): ``run_journey`` and the stacks it
runs on (``EmbeddedStack`` in this process, ``RealStack`` for running processes)."""

from __future__ import annotations

from ler_cli.journey.driver import run_journey
from ler_cli.journey.errors import JourneyError
from ler_cli.journey.result import JourneyResult, Step
from ler_cli.journey.stack import EmbeddedStack, RealStack

__all__ = ["EmbeddedStack", "JourneyError", "JourneyResult", "RealStack", "Step", "run_journey"]
