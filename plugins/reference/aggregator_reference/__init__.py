"""The ``reference`` plugin: the example every plugin author reads first (see provider.py)."""

from .provider import ReferenceProvider

__all__ = ["ReferenceProvider"]
