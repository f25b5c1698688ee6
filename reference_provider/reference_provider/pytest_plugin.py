"""Loaded by pytest at start-up (entry point ``pytest11``), before any test is collected.

Its only job: import the real ``reference_provider`` package first. Under
``--import-mode=importlib`` pytest would otherwise create a module named ``reference_provider``
from the *directory* ``reference_provider/`` (which holds ``tests/``) when it imports
``reference_provider/tests/*``, shadowing this package. Importing it is cheap (lazy).
"""

from __future__ import annotations

import reference_provider  # noqa: F401
