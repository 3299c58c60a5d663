"""``python -m edi`` runs the command line."""

from edi.cli import main

main()
