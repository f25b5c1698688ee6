"""The ``aggregator`` command, one module per area.

``processes`` (serve, demo, worker), ``poll``, ``accounts`` (with ``login``: terminal
logins), ``operations`` (tariffs, services, suspension, top-up; ``operator``: codes from a
person or a script), ``chat``, ``report``, ``users``, ``plugins``, ``admin`` (keys, db),
``tokens``.

Each command is a thin adapter: it reads options, prompts or secrets, calls the application
layer (:mod:`aggregator.services`) and prints the answer as a table or ``--json``.
Every command imports what it needs inside its own body, so ``aggregator --help`` and
``aggregator plugins list`` do not pay for the database, the web server or the scheduler. An
error is one line on stderr and exit code 1 (:mod:`.base`).
"""

from __future__ import annotations

from collections.abc import Sequence

import typer

from . import history, operations, poll, processes, recover, report
from .accounts import accounts_app
from .admin import db_app, keys_app
from .app import app
from .base import CliError, describe_error, fail
from .chat import chat_app
from .plugins import plugin_listing, plugins_app
from .tokens import tokens_app
from .users import users_app

__all__ = ["CliError", "app", "describe_error", "fail", "main", "plugin_listing"]

app.add_typer(accounts_app, name="accounts")
app.add_typer(users_app, name="users")
app.add_typer(plugins_app, name="plugins")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(tokens_app, name="tokens")
app.add_typer(chat_app, name="chat")
_COMMANDS = (
    history,
    operations,
    poll,
    processes,
    recover,
    report,
)  # imported for the commands they register on ``app``


def main(argv: Sequence[str] | None = None) -> None:
    """The console script."""
    command = typer.main.get_command(app)
    command.main(args=list(argv) if argv is not None else None, prog_name="aggregator")


if __name__ == "__main__":  # pragma: no cover
    main()
