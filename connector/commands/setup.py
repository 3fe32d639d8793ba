"""connect, install, rotate-secret: getting a CRM account wired up."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from adapters.endpoints import is_private_endpoint
from adapters.errors import TransientError

from ..connections import (
    create_connection,
    crm_signing_secret,
    get_connection,
    list_connections,
    new_webhook_secret,
    remembered_settings,
    rotate_webhook_secret,
    webhook_secrets,
    with_webhook_registration,
)
from ..jobs import resume_connection
from ..registry import PLATFORMS, get_platform
from .common import console, parse_pairs, pick_connection, read_json_object, runtime
from .tables import Column, fitted_table

PLATFORM_CHOICE = click.Choice(sorted(PLATFORMS))


@click.command("connect")
@click.argument("platform", type=PLATFORM_CHOICE)
@click.option("--name", default="default", show_default=True, help="A name for this CRM account (unique per platform).")
@click.option("--setting", "settings", multiple=True, metavar="KEY=VALUE",
              help="Non-secret setting, e.g. app_id=123, username=..., org_url=... (repeatable).")
@click.option("--credential", "credentials", multiple=True, metavar="KEY=VALUE",
              help="Secret, e.g. access_token=..., client_secret=...; KEY=@file reads a file (repeatable).")
@click.option("--credentials-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON object of secrets, instead of --credential.")
@click.option("--webhook-secret", "webhook_secret", help="The secret the CRM authenticates webhooks with "
              "(HubSpot: the app's client secret, taken from --credential client_secret). Generated when omitted.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Log in to the CRM now to prove the credentials work.")
def connect_command(platform: str, name: str, settings: tuple[str, ...], credentials: tuple[str, ...],
                    credentials_file: Path | None, webhook_secret: str | None, check: bool) -> None:
    """Connect a CRM account: store its settings and (encrypted) credentials.

    Prints what to paste into the CRM (the webhook URL, with its secret where the CRM
    needs one) and the next command. Settings and credentials per CRM: README.md.

    \b
    Examples (replace the values; KEY=@file reads a file):
      cem-connector connect hubspot --credential access_token=pat-na1-xxxx \\
          --credential client_secret=xxxx --setting app_id=1234567
      cem-connector connect salesforce --setting auth=jwt --setting username=integration@acme.com \\
          --credential consumer_key=3MVG9xxxx --credential private_key=@cem.key
      cem-connector connect dynamics --setting org_url=https://contoso.crm.dynamics.com \\
          --setting tenant_id=00000000-aaaa-bbbb-cccc-000000000001 \\
          --setting client_id=00000000-aaaa-bbbb-cccc-000000000002 --credential client_secret=xxxx
    Secrets are encrypted at rest with CEM_SECRET_KEY and never logged.
    """
    setting_values = parse_pairs(settings, "--setting")
    secret_values = parse_pairs(credentials, "--credential")
    if credentials_file:
        secret_values.update(read_json_object(credentials_file, "--credentials-file"))
    platform_info = get_platform(platform)
    receiver_cls = platform_info.receiver_class()
    _refuse_unknown_settings(platform_info.adapter_class(), platform_info.label, setting_values)
    if webhook_secret is None:  # e.g. HubSpot signs webhooks with the app's client secret
        webhook_secret = crm_signing_secret(platform_info.adapter_class(), secret_values) or new_webhook_secret()
    with runtime() as rt:
        adapter_cls = platform_info.adapter_class()
        account_id = setting_values.get("account_id")
        if rt.settings.production and is_private_endpoint(setting_values):
            console.print("[yellow]Warning:[/yellow] private_endpoint=true: this connection may send its "
                          "credentials to hosts that are not the CRM vendor's. Use it only for a proxy or test CRM "
                          "you control.")
        if check:
            from adapters.base import ConnectionInfo

            facts = _check(adapter_cls(ConnectionInfo(0, platform, setting_values, secret_values,
                                                      production=rt.settings.production)), platform_info.label)
            account_id = str(facts.get("account_id") or account_id or "") or None
            setting_values = remembered_settings(adapter_cls, setting_values, facts)
            console.print(f"[green]Connected[/green] to {platform_info.label} account {account_id or '?'}.")

        def save() -> int:
            return create_connection(rt.store, rt.box, platform=platform, name=name, settings=setting_values,
                                     credentials=secret_values, webhook_secrets=[webhook_secret],
                                     account_id=account_id)

        replacing = any(row.name == name for row in list_connections(rt.store, platform))
        connection_id = save()
        url = f"{rt.settings.public_url}/webhooks/{platform}/{connection_id}"
        if adapter_cls.webhook_registration:  # install registers the webhook: it needs the URL and secret
            setting_values, secret_values = with_webhook_registration(adapter_cls, url, webhook_secret,
                                                                      setting_values, secret_values)
            save()
        if replacing:  # the same --name again replaces settings and credentials: say so
            console.print(f"Updated connection [bold]{connection_id}[/bold] ({platform}/{name}): its settings and "
                          "credentials were replaced by these. Use another --name for a second account.")
        else:
            console.print(f"Connection [bold]{connection_id}[/bold] ({platform}/{name}) saved.")
        if resume_connection(rt, connection_id):
            console.print("[green]Resumed:[/green] this connection was stopped because the CRM refused its "
                          "credentials; waiting writes go out now and everything that changed meanwhile is "
                          "reconciled.")
        console.print(f"\n[bold]Paste into {platform_info.label}:[/bold]")
        for line in receiver_cls.setup_lines(url, webhook_secret):
            console.print(f"  {line}", soft_wrap=True)
        if _loopback(rt.settings.public_url):
            console.print(f"[yellow]CEM_PUBLIC_URL is {rt.settings.public_url}, which {platform_info.label} cannot "
                          "reach: set it to this service's public https URL and run connect again.[/yellow]")
        console.print(f"\n[bold]Next:[/bold] cem-connector install {platform} --connection {connection_id} --dry-run "
                      f"(then without --dry-run), then cem-connector backfill --connection {connection_id}",
                      soft_wrap=True)


def _refuse_unknown_settings(adapter_cls: Any, label: str, values: dict[str, Any]) -> None:
    """A mistyped --setting would be stored and silently ignored: refuse it, naming what the platform reads."""
    known = adapter_cls.known_settings()
    unknown = sorted(key for key in values if known and key not in known)
    if unknown:
        raise click.ClickException(f"{label} has no setting {', '.join(unknown)}; its settings are: "
                                   f"{', '.join(known)} (secrets go in --credential).")


def _check(adapter: Any, label: str) -> dict[str, Any]:
    """Log in once; a CRM that cannot be reached is one line with what to check, not the SDK's noise."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # an SDK prints each failed HTTP attempt
            return dict(adapter.check_connection())
    except TransientError as error:
        cause = error.__cause__ or error
        raise click.ClickException(
            f"Could not reach {label} to check the connection ({type(cause).__name__}): check the network, a proxy "
            "(HTTPS_PROXY) and the URL settings, or save it unchecked with --no-check.") from error


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


INSTALL_COLUMNS = (Column("action", 9), Column("what", 16, wrap=True), Column("detail", 12, priority=1, wrap=True))


@click.command("install")
@click.argument("platform", type=PLATFORM_CHOICE)
@click.option("--connection", "connection_id", type=int, help="Connection id (default: the only one).")
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
def install_command(platform: str, connection_id: int | None, dry_run: bool) -> None:
    """Create the CEM fields (and what shows them to reps) in the CRM, idempotently.

    A re-run changes nothing and says so. Use --dry-run to see the plan first.
    The Churn Reason picklist gets the reasons of the engine config (CEM_ENGINE_CONFIG): after adding
    a reason there, run install again and it adds just that option (existing ones are never removed
    or renumbered).
    """
    with runtime() as rt:
        connection_id = pick_connection(rt, connection_id, platform)
        report = rt.adapter(connection_id).provision(dry_run=dry_run)
        rows = []
        for step in report.steps:
            style = {"unchanged": "dim", "todo": "yellow"}.get(step.action, "green")
            rows.append((f"[{style}]{step.action}[/{style}]", step.target, step.detail))
        console.print(fitted_table(INSTALL_COLUMNS, rows, console.width,
                                   title=f"{'Plan' if dry_run else 'Install'}: {get_platform(platform).label} "
                                         f"connection {connection_id}"))
        for step in report.todo:
            console.print(f"[yellow]Still to do: {step.target}: {step.detail}[/yellow]", soft_wrap=True)
        if dry_run:
            console.print("Dry run: nothing was changed. Run without --dry-run to apply." if report.changed
                          else "Dry run: nothing would change.")
        elif not report.changed and not report.todo:
            console.print("Everything is already in place; nothing changed.")


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
