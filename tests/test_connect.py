"""`connect` as an admin uses it: the --help examples work when copied (run against the sandbox CRMs,
only the values replaced), and the output holds everything to paste into the CRM plus the next step.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connector.cli import main
from tests.conftest import make_env

# where the CRM is: a real account never needs these (defaults), the sandboxes do
LOCATION_SETTINGS = ("api_base_url", "login_url", "authority_host", "ca_bundle")
PUBLIC_URL = "https://cem.example.com"


def help_examples() -> dict[str, list[str]]:
    text = CliRunner().invoke(main, ["connect", "--help"], terminal_width=200).output
    block = text.split("Examples")[1].split("Secrets are")[0].splitlines()[1:]
    commands, current = [], ""
    for line in block:
        current += " " + line.strip().removesuffix("\\")
        if not line.rstrip().endswith("\\"):
            commands.append(shlex.split(current))
            current = ""
    return {argv[2]: argv[1:] for argv in commands if argv[:2] == ["cem-connector", "connect"]}


def with_sandbox_values(argv: list[str], settings: dict[str, Any], credentials: dict[str, Any]) -> list[str]:
    """The example with its placeholder values replaced by the sandbox's, key and option kept as written."""
    out = list(argv)
    for index, token in enumerate(out[:-1]):
        key, _, value = out[index + 1].partition("=")
        group = settings if token == "--setting" else credentials if token == "--credential" else None
        if group is not None and key in group and not value.startswith("@"):
            out[index + 1] = f"{key}={group[key]}"
    given = {out[i + 1].partition("=")[0] for i, t in enumerate(out[:-1]) if t == "--setting"}
    for key in LOCATION_SETTINGS:
        if key in settings and key not in given:
            out += ["--setting", f"{key}={settings[key]}"]
    return out


@pytest.fixture
def sandboxes(tmp_path: Path) -> Iterator[dict[str, Any]]:
    from sandbox.dynamics import DynamicsSandbox
    from sandbox.hubspot import HubSpotSandbox
    from sandbox.salesforce import SalesforceSandbox

    made = {"hubspot": HubSpotSandbox(), "salesforce": SalesforceSandbox(), "dynamics": DynamicsSandbox()}
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    made["salesforce"].register_connected_app("3MVG9-cem-example", key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
    (tmp_path / "cem.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    for sandbox in made.values():
        sandbox.start()
    yield made
    for sandbox in made.values():
        sandbox.stop()


@pytest.mark.parametrize("platform", ["hubspot", "salesforce", "dynamics"])
def test_help_example_works_when_copied_and_prints_what_to_paste(
        platform: str, sandboxes: dict[str, Any], tmp_path: Path, embedded_redis: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    examples = help_examples()
    assert set(examples) == {"hubspot", "salesforce", "dynamics"}
    settings, credentials = sandboxes[platform].connection_settings()
    argv = with_sandbox_values(examples[platform], settings, credentials)
    monkeypatch.chdir(tmp_path)  # private_key=@cem.key is read from the working directory
    env = make_env(tmp_path, redis_url=embedded_redis, CEM_PUBLIC_URL=PUBLIC_URL)
    result = CliRunner().invoke(main, argv, env=env, terminal_width=200)
    assert result.exit_code == 0, result.output
    output = result.output
    assert "Connected to" in output and "Paste into" in output
    url = f"{PUBLIC_URL}/webhooks/{platform}/1"
    assert url in output
    assert f"Next: cem-connector install {platform} --connection 1 --dry-run" in output

    from connector.config import Settings
    from connector.connections import get_connection, webhook_secrets
    from connector.crypto import SecretBox
    from connector.store import Store

    store_settings = Settings.from_env(env)
    store = Store(store_settings.database_url)
    row = get_connection(store, 1)
    box = SecretBox(store_settings.secret_key)
    [secret] = webhook_secrets(box, row)
    store.dispose()
    if platform == "salesforce":
        assert f"{url}?token={secret}" in output  # the Outbound Message endpoint URL, ready to paste
    if platform == "hubspot":
        assert secret == credentials["client_secret"]  # HubSpot signs with the app's client secret
    if platform == "dynamics":
        assert f"Value {secret}" in output
        # install registers the webhook itself: connect gave it the URL and the key
        assert row.settings["webhook_url"] == url and box.open(row.credentials)["webhook_secret"] == secret
        plan = CliRunner().invoke(main, ["install", "dynamics", "--dry-run"], env=env, terminal_width=200)
        assert plan.exit_code == 0, plan.output
        assert "webhook" in plan.output and "Still to do" not in plan.output


def test_dynamics_install_does_not_say_nothing_changed_while_the_webhook_is_missing(
        sandboxes: dict[str, Any], tmp_path: Path, embedded_redis: str) -> None:
    sandbox = sandboxes["dynamics"]
    settings, credentials = sandbox.connection_settings()
    env = make_env(tmp_path, redis_url=embedded_redis)
    from connector.config import Settings
    from connector.connections import create_connection
    from connector.crypto import SecretBox
    from connector.store import Store

    config = Settings.from_env(env)
    store = Store(config.database_url)
    store.upgrade()
    create_connection(store, SecretBox(config.secret_key), platform="dynamics", name="old", settings=settings,
                      credentials=credentials, account_id=sandbox.org.organization_id)
    store.dispose()
    for _ in range(2):  # the second run has every column in place, and still no webhook
        result = CliRunner().invoke(main, ["install", "dynamics"], env=env, terminal_width=200)
        assert result.exit_code == 0, result.output
        assert "nothing changed" not in result.output
        assert "Still to do: webhook" in result.output and "connect dynamics" in result.output
