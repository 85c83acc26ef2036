"""``python -m evflex.cli``: the same as the ``evflex`` command."""

from evflex.cli import app

app(prog_name="evflex")
