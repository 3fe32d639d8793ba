"""connect, install, rotate-secret: getting a CRM account wired up."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from ..connections import (
    create_connection,
    crm_signing_secret,
    get_connection,
    remembered_settings,
    rotate_webhook_secret,
    webhook_secrets,
)
from ..registry import PLATFORMS, get_platform
from .common import console, parse_pairs, pick_connection, runtime

PLATFORM_CHOICE = click.Choice(sorted(PLATFORMS))


@click.command("connect")
@click.argument("platform", type=PLATFORM_CHOICE)
@click.option("--name", default="default", show_default=True, help="A name for this CRM account (unique per platform).")
@click.option("--setting", "settings", multiple=True, metavar="KEY=VALUE",
              help="Non-secret setting, e.g. portal_id=123, instance_url=..., org_url=... (repeatable).")
@click.option("--credential", "credentials", multiple=True, metavar="KEY=VALUE",
              help="Secret, e.g. access_token=..., client_secret=...; KEY=@file reads a file (repeatable).")
@click.option("--credentials-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON object of secrets, instead of --credential.")
@click.option("--webhook-secret", "webhook_secret", help="The secret the CRM signs webhooks with "
              "(HubSpot: the app's client secret). Generated when omitted.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Log in to the CRM now to prove the credentials work.")
def connect_command(platform: str, name: str, settings: tuple[str, ...], credentials: tuple[str, ...],
                    credentials_file: Path | None, webhook_secret: str | None, check: bool) -> None:
    """Connect a CRM account: store its settings and (encrypted) credentials.

    \b
    Examples:
      cem-connector connect hubspot --credential access_token=pat-na1-... \\
          --credential client_secret=... --setting app_id=123456
      cem-connector connect salesforce --setting domain=login --setting username=integration@acme.com \\
          --setting consumer_key=3MVG9... --credential private_key=@server.key
    Secrets are encrypted at rest with CEM_SECRET_KEY and never printed or logged.
    """
    setting_values = parse_pairs(settings, "--setting")
    secret_values = parse_pairs(credentials, "--credential")
    if credentials_file:
        secret_values.update(json.loads(credentials_file.read_text()))
    if webhook_secret is None:  # e.g. HubSpot signs webhooks with the app's client secret
        webhook_secret = crm_signing_secret(get_platform(platform).adapter_class(), secret_values)
    with runtime() as rt:
        account_id = setting_values.get("account_id")
        if check:
            from adapters.base import ConnectionInfo

            adapter_cls = get_platform(platform).adapter_class()
            facts = adapter_cls(ConnectionInfo(0, platform, setting_values, secret_values)).check_connection()
            account_id = str(facts.get("account_id") or account_id or "") or None
            setting_values = remembered_settings(adapter_cls, setting_values, facts)
            console.print(f"[green]Connected[/green] to {get_platform(platform).label} account {account_id or '?'}.")
        connection_id = create_connection(rt.store, rt.box, platform=platform, name=name, settings=setting_values,
                                          credentials=secret_values,
                                          webhook_secrets=[webhook_secret] if webhook_secret else None,
                                          account_id=account_id)
        console.print(f"Connection [bold]{connection_id}[/bold] ({platform}/{name}) saved.")
        console.print(f"Webhook URL: {rt.settings.public_url}/webhooks/{platform}/{connection_id}")
        console.print(f"Next: cem-connector install {platform} --connection {connection_id}")


@click.command("install")
@click.argument("platform", type=PLATFORM_CHOICE)
@click.option("--connection", "connection_id", type=int, help="Connection id (default: the only one).")
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
def install_command(platform: str, connection_id: int | None, dry_run: bool) -> None:
    """Create the CEM fields (and what shows them to reps) in the CRM, idempotently.

    A re-run changes nothing and says so. Use --dry-run to see the plan first.
    """
    with runtime() as rt:
        connection_id = pick_connection(rt, connection_id, platform)
        report = rt.adapter(connection_id).provision(dry_run=dry_run)
        table = Table(title=f"{'Plan' if dry_run else 'Install'}: {get_platform(platform).label} "
                            f"connection {connection_id}")
        table.add_column("action")
        table.add_column("what")
        table.add_column("detail")
        for step in report.steps:
            style = "dim" if step.action == "unchanged" else "green"
            table.add_row(f"[{style}]{step.action}[/{style}]", step.target, step.detail)
        console.print(table)
        if not report.changed:
            console.print("Everything is already in place; nothing changed.")
        elif dry_run:
            console.print("Dry run: nothing was changed. Run without --dry-run to apply.")


@click.command("rotate-secret")
@click.option("--connection", "connection_id", type=int, required=True)
@click.option("--secret", help="The new secret (default: generate one).")
def rotate_secret_command(connection_id: int, secret: str | None) -> None:
    """Add a new webhook secret; the previous one stays valid until the next rotation."""
    with runtime() as rt:
        new = rotate_webhook_secret(rt.store, rt.box, connection_id, secret)
        accepted = webhook_secrets(rt.box, get_connection(rt.store, connection_id))
        console.print(f"New webhook secret set; {len(accepted)} secrets accepted now. Configure the CRM with it:")
        console.print(new)
