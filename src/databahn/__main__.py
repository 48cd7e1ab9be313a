"""`python -m databahn` runs the CLI."""

from databahn.cli.main import main

main()
