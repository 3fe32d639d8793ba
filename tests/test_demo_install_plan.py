"""The demo wires its Dynamics sandbox the way `connect` does: the install plan knows the webhook (it used to say
"webhook not registered: webhook_url / webhook_secret missing" while the demo's webhooks worked)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from connector.cli import main
from connector.config import Settings
from connector.registry import get_platform
from connector.runtime import Runtime
from demo.run import connect_sandbox
from tests.conftest import make_env


def test_install_dry_run_on_the_demos_dynamics_connection_has_nothing_left_to_do(tmp_path: Path,
                                                                                embedded_redis: str) -> None:
    from sandbox.dynamics import DynamicsSandbox

    env = make_env(tmp_path, redis_url=embedded_redis)
    sandbox = DynamicsSandbox()
    sandbox.start()
    runtime = Runtime(Settings.from_env(env))
    try:
        connection_id, _, _ = connect_sandbox(runtime, get_platform("dynamics"), sandbox, name="demo")
        runtime.close()
        result = CliRunner().invoke(main, ["install", "dynamics", "--connection", str(connection_id), "--dry-run"],
                                    env=env, terminal_width=200)
        assert result.exit_code == 0, result.output
        assert "Still to do" not in result.output and "webhook_url" not in result.output, result.output
        assert "nothing would change" in result.output, result.output
        endpoints = [e for e in sandbox.org.rows["serviceendpoints"].values()
                     if e.get("url", "").endswith(f"/webhooks/dynamics/{connection_id}")]
        assert len(endpoints) == 1  # install's registration and the sandbox's subscription are one endpoint
    finally:
        sandbox.stop()
