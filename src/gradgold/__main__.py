"""``python -m gradgold``: the same as the ``gradgold`` command."""

from .cli import main

main()
