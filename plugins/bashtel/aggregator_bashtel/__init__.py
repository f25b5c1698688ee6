"""Aggregator plugin for Bashinformsvyaz («Башинформсвязь»): an HTML cabinet behind a captcha.

``provider.py`` says what the plugin can do, ``browser_login.py`` drives the login form in
Chromium, ``client.py`` reads pages over HTTP with the session cookies, ``parsing.py`` reads the
pages (pure, tested on saved payloads).
"""

from .provider import BashtelProvider

__all__ = ["BashtelProvider"]
