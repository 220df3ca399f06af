"""`python -m orplan`: the same as the `orplan` command."""

from orplan.cli import main

main()
