"""package: the artefact a CRM admin installs inside the CRM (HubSpot project, SFDX source, Dataverse solution)."""

from __future__ import annotations

from pathlib import Path

import click

from adapters.packaging import PackageContext, write_package

from ..connections import get_connection, webhook_targets
from ..registry import PLATFORMS, get_platform
from .common import console, pick_connection, runtime


@click.command("package")
@click.argument("platform", type=click.Choice(sorted(PLATFORMS)))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Where to write it: a new directory (HubSpot, Salesforce) or a .zip file (Dynamics).")
@click.option("--connection", "connection_id", type=int, help="Connection id (default: the only one of PLATFORM).")
def package_command(platform: str, output: Path, connection_id: int | None) -> None:
    """Write the package an admin installs inside the CRM, for one connection.

    \b
    hubspot     a developer-platform project: app, webhook subscriptions, contact app card
    salesforce  SFDX source: CEM fields on Contact/Lead, permission set, layout, record-page
                Lightning component, Apex that signs webhooks and card requests
    dynamics    an unmanaged solution zip: CEM columns and choices, contact web resource,
                webhook service endpoint and steps
    Every field comes from the CEM field specs, so packages and `cem-connector install` agree; the
    Churn Reason picklist lists the reasons of the engine config (CEM_ENGINE_CONFIG), your own included.
    The URLs inside point at CEM_PUBLIC_URL, which the CRM must reach over https.

    \b
    Examples:
      cem-connector package hubspot -o cem-hubspot
      cem-connector package salesforce -o cem-salesforce --connection 2
      cem-connector package dynamics -o cem-dynamics.zip
    """
    spec = get_platform(platform)
    with runtime() as rt:
        connection_id = pick_connection(rt, connection_id, platform)
        row = get_connection(rt.store, connection_id)
        if row.platform != platform:
            raise click.ClickException(f"Connection {connection_id} is a {row.platform} connection, not {platform}.")
        target = webhook_targets(rt.store, rt.box, platform, connection_id)[0]
        context = PackageContext(connection_id=connection_id, public_url=rt.settings.public_url,
                                 settings=dict(row.settings), account_id=row.account_id,
                                 card_credential=spec.receiver_class()().card_credential(target),
                                 fields=rt.cem_fields)
        package = spec.package_class()()
        written = write_package(package, context, output)
    where = written[0] if len(written) == 1 else output
    console.print(f"[green]Wrote[/green] the {spec.label} package for connection {connection_id} to {where} "
                  f"({len(written)} file{'s' if len(written) != 1 else ''}).")
    console.print(package.next_step)
