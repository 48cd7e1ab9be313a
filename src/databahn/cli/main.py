"""The `databahn` command line (Typer)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Databahn: the data highway for research consortia.")


def main() -> None:
    app()
