"""The application layer: every workflow of the aggregator, written once.

The web pages (:mod:`aggregator.server.routes`), the JSON API and the CLI (:mod:`aggregator.cli`)
are thin adapters over this package: they read a form, a JSON body or command-line options,
call one function or method here, and translate its answer (or its exception) to HTML, JSON
or a terminal table. None of them holds SQL or a workflow of its own; a fix lands here once.

- :mod:`.accounts`: link, relink, label, remove, find; one row per operator account;
- :mod:`.errors`: the exceptions the adapters translate (not found, bad input);
- :mod:`.tokens`: personal API tokens (create, list, revoke, authenticate a Bearer request);
- :mod:`.channels`: notification channels of plugins (settings, link codes, recipients, the
  channels per alert kind);
- :mod:`.households`: the household and its first user, sign-in, members and invitations,
  personal and household settings, password changes;
- :mod:`.alert_rules`: the household's alert settings and an account's own thresholds;
- :mod:`.outbox`: the household's alert mail (outbox rows, what the embedded sink got);
- :mod:`.database`: the schema's revision and the migration (``aggregator db``);

Every function takes the database session it works in (an ``AsyncSession``) and the acting
household (and user, when a person acts through the dashboard). Functions that finish a
workflow commit; helpers that are steps of one say so and only flush.
"""

from __future__ import annotations

__all__: list[str] = []
