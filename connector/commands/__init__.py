"""The `cem-connector` subcommands, one module per area."""
