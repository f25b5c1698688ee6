"""Aggregator plugin for NetByNet («Нетбайнет»): contract-number login, regions, a JSON API.

``provider.py`` says what the plugin can do, ``client.py`` talks to the API, ``parsing.py``
reads its replies (pure, tested on saved payloads).
"""

from .provider import NetbynetProvider

__all__ = ["NetbynetProvider"]
