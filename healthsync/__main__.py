"""`python -m healthsync`: the same command as the `healthsync` script."""

from healthsync.cli import main

main()
