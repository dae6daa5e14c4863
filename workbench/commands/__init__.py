"""Subcommands of the ``workbench`` CLI: one module each, discovered by the CLI."""
