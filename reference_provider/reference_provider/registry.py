"""The dialects the reference provider knows, where each is mounted, and how one is loaded.

Shared by the app (:mod:`.app`, which mounts them) and the simulation API (:mod:`.sim`, which
asks a dialect for its bulk session tokens), so neither imports the other.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["DIALECTS", "PREFIXES", "SEGMENTS", "load_dialect"]

DIALECTS = ("native", "bashtel", "beeline", "rostelecom", "netbynet")
PREFIXES = {
    "native": "/reference/api/v1",
    "bashtel": "/bashtel",
    "beeline": "/beeline",
    "rostelecom": "/rostelecom",
    "netbynet": "/netbynet",
}
# the first path segment of each dialect: what fault rules call its "operator"
SEGMENTS = {name: prefix.split("/")[1] for name, prefix in PREFIXES.items()}


def load_dialect(name: str) -> ModuleType | None:
    """The dialect module, or None when it does not exist yet."""
    module_name = f"reference_provider.dialects.{name}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
