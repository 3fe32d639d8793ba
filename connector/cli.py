"""`cem-connector`: one CLI for install, operation and trying the engine (a Click group)."""

from __future__ import annotations

import click

from .commands.analyze import analyze_command
from .commands.demo import demo_command
from .commands.export import export_command
from .commands.ops import forget_command, journey_link_command, replay_command, status_command
from .commands.run import scheduler_command, serve_command, worker_command
from .commands.setup import connect_command, install_command, rotate_secret_command
from .commands.sync import backfill_command, reconcile_command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="cem-connector")
def main() -> None:
    """Customer Experience Mapping for Salesforce, HubSpot and Dynamics 365.

    Writes journey stage, emotion score and churn reason (with the evidence) onto
    the CRM's own contact records, updated by webhooks within seconds.

    \b
    Getting started:
      cem-connector demo                      everything on this machine, with sandbox CRMs
      cem-connector connect hubspot ...       connect a real account
      cem-connector install hubspot           create the CEM fields
      cem-connector backfill                  analyse existing contacts
      cem-connector serve / worker            run the service (see the Procfile)

    Configuration comes from environment variables (see .env.example).
    """


for command in (
    connect_command, install_command, backfill_command, reconcile_command, serve_command, worker_command,
    scheduler_command, demo_command, status_command, replay_command, forget_command, journey_link_command,
    rotate_secret_command, export_command,
):
    main.add_command(command)

main.add_command(analyze_command)

if __name__ == "__main__":
    main()
