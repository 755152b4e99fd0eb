"""``python -m filon``: the same as the ``filon`` command."""

from filon.cli import main

main()
