"""`cem-connector`: one CLI for install, operation and trying the engine (a Click group)."""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import ClassVar

import click

from .commands.analyze import analyze_command
from .commands.export import export_command
from .commands.ops import forget_command, journey_link_command, replay_command, status_command
from .commands.package import package_command
from .commands.run import migrate_command, scheduler_command, serve_command, worker_command
from .commands.setup import connect_command, install_command, rotate_secret_command
from .commands.sync import backfill_command, reconcile_command
from .diagnose import debug_requested, explain


class CLI(click.Group):
    """The command group. Known failures (configuration, database, Redis, CRM) become one line and exit
    code 1 (connector.diagnose); it also offers commands defined above the service, loaded when first asked for.

    The demo drives sandbox CRMs, so it lives in the top-level ``demo`` package, above the service;
    naming it here (not importing it) keeps the service free of sandbox imports.
    """

    lazy: ClassVar[dict[str, str]] = {"demo": "demo.command:demo_command"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *(n for n in self.lazy if _importable(self.lazy[n]))])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            if not _importable(self.lazy[name]):
                raise click.ClickException(f"`cem-connector {name}` is not part of this installation; "
                                           "reinstall the package (`make install` or `pip install -e .`).")
            module, _, attr = self.lazy[name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except Exception as error:
            message = explain(error)
            if message is None or debug_requested():
                raise  # a bug, or the admin asked for the traceback
            raise click.ClickException(message) from error


def _importable(path: str) -> bool:
    return importlib.util.find_spec(path.partition(".")[0]) is not None


def _debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        os.environ["CEM_DEBUG"] = "1"  # read by diagnose.debug_requested(), also in child processes


@click.group(cls=CLI, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="cem-connector")
@click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_debug,
              help="Show tracebacks for failures (also CEM_DEBUG=1).")
def main() -> None:
    """Customer Experience Mapping for Salesforce, HubSpot and Dynamics 365.

    Writes journey stage, emotion score and churn reason (with the evidence) onto
    the CRM's own contact records, updated by webhooks within seconds.

    \b
    Getting started:
      cem-connector demo                      everything on this machine, with sandbox CRMs
      cem-connector connect hubspot ...       connect a real account
      cem-connector install hubspot           create the CEM fields
      cem-connector package hubspot -o DIR    the app/package admins install inside the CRM
      cem-connector backfill                  analyse existing contacts
      cem-connector serve / worker            run the service (see the Procfile)
      cem-connector migrate                   create or upgrade the database schema (each deploy)

    Configuration comes from environment variables (see .env.example).
    """


for command in (
    connect_command, install_command, backfill_command, reconcile_command, serve_command, worker_command,
    scheduler_command, status_command, replay_command, forget_command, journey_link_command,
    rotate_secret_command, export_command, package_command, migrate_command,
):
    main.add_command(command)

main.add_command(analyze_command)

if __name__ == "__main__":
    main()
