"""The fault suite (issue 7): each scenario breaks a whole loopback connector on purpose and reports
one row per platform (events sent, applied, lost, duplicate writes, result).

``python -m tests.faults`` (``make faults``) runs every scenario at full size and prints the table;
``tests/test_faults.py`` runs them at CI size and asserts each row.
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .outcome import Row

PLATFORMS = ("hubspot", "salesforce", "dynamics")


@dataclass(frozen=True)
class Scenario:
    key: str
    module: str
    ci: dict[str, Any]  # keyword arguments for CI size
    full: dict[str, Any]  # keyword arguments for `make faults`
    platforms: tuple[str, ...] = PLATFORMS  # a platform-specific fault names only its platform

    def runner(self) -> Callable[..., Row]:
        return importlib.import_module(f"{__name__}.{self.module}").run

    def run(self, platform: str, directory: Path | None = None, *, full: bool = False) -> Row:
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix=f"cem-fault-{self.key}-{platform}-"))
        return self.runner()(platform, directory, **(self.full if full else self.ci))


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("duplicates", "scenario_duplicates", {"contacts": 20}, {"contacts": 50}),
    Scenario("sigkill", "scenario_crash", {"contacts": 20}, {"contacts": 50}),
    Scenario("redis", "scenario_redis", {"contacts": 20}, {"contacts": 50}),
    Scenario("crm", "scenario_crm", {"contacts": 15}, {"contacts": 40}),
    Scenario("loop", "scenario_loop", {"contacts": 15}, {"contacts": 50}),
    Scenario("bad-input", "scenario_input", {"examples": 60}, {"examples": 400}),
    Scenario("signatures", "scenario_signatures", {}, {}),
    Scenario("secrets", "scenario_secrets", {}, {}),
    Scenario("gdpr", "scenario_gdpr", {"contacts": 6}, {"contacts": 20}),
    Scenario("backpressure", "scenario_backpressure", {"contacts": 20}, {"contacts": 30}),
    Scenario("load", "scenario_load", {"events": 1000, "contacts": 50}, {"events": 10_000, "contacts": 200}),
    Scenario("race", "scenario_race", {"contacts": 4}, {"contacts": 4}),
    Scenario("auth", "scenario_auth", {"contacts": 5}, {"contacts": 6}),
    Scenario("reconcile", "scenario_reconcile", {"contacts": 6}, {"contacts": 8}),
    Scenario("redis-lost", "scenario_redis_lost", {"contacts": 6}, {"contacts": 6}),
    Scenario("database", "scenario_database", {"contacts": 3}, {"contacts": 4}, platforms=("dynamics",)),
    Scenario("field", "scenario_field", {"contacts": 5}, {"contacts": 5}),
    Scenario("forget", "scenario_forget", {"contacts": 4}, {"contacts": 4}),
    Scenario("sentences", "scenario_sentences", {"contacts": 6}, {"contacts": 10}),
    Scenario("pinning", "scenario_pinning", {}, {}),
    Scenario("v1-downgrade", "scenario_downgrade", {}, {}, platforms=("hubspot",)),
)
