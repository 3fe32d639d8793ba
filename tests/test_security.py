"""Security (issue 7, scenarios 7 and 8) over real HTTP through the whole web app, per platform:
webhook signatures (missing / wrong / stale / replayed / tampered -> 401, rotation overlap), secrets
encrypted at rest (raw database bytes) and absent from every log line, admin authentication, and
short-lived signed journey URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import PLATFORMS, scenario_secrets, scenario_signatures
from tests.faults.redis_server import redis_binary

pytestmark = pytest.mark.skipif(redis_binary() is None, reason="no redis-server binary to start privately")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_webhook_signatures(platform: str, tmp_path: Path) -> None:
    row = scenario_signatures.run(platform, tmp_path)
    assert row.sent >= 7, row.detail
    assert row.ok, row.detail


@pytest.mark.parametrize("platform", PLATFORMS)
def test_secrets_admin_and_signed_urls(platform: str, tmp_path: Path) -> None:
    row = scenario_secrets.run(platform, tmp_path)
    assert "0 problems" in row.detail, row.detail
    assert row.ok, row.detail
