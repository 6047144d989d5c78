"""``python -m bot.cli``: the ``lockstep`` command, without installing its script."""

from bot.cli.main import main

main()
