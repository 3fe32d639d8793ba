"""GDPR (issue 7, scenario 9): a deletion webhook or `cem-connector forget` removes everything stored
about the person; every table and every cem: Redis key is searched for the id afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import PLATFORMS, scenario_gdpr
from tests.faults.redis_server import redis_binary

pytestmark = pytest.mark.skipif(redis_binary() is None, reason="no redis-server binary to start privately")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_deletion_and_forget_remove_everything_about_the_person(platform: str, tmp_path: Path) -> None:
    row = scenario_gdpr.run(platform, tmp_path, contacts=5)
    assert "nothing; after forget: nothing" in row.detail, row.detail
    assert row.ok, row.detail
