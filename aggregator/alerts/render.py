"""Render an alert as an e-mail: a subject, a plain-text part and an HTML part (Jinja2).

The words come from :mod:`.messages`; the layout from ``templates/alert.txt.j2`` and
``templates/alert.html.j2`` (HTML autoescaped, inline styles only, as mail clients want).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2

from .messages import AlertView, compose

__all__ = ["RenderedAlert", "render_alert", "render_chat"]

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class RenderedAlert:
    subject: str
    text: str
    html: str
    lang: str


@lru_cache(maxsize=1)
def _environments() -> tuple[jinja2.Environment, jinja2.Environment]:
    loader = jinja2.FileSystemLoader(TEMPLATES)
    html = jinja2.Environment(
        loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    text = jinja2.Environment(
        loader=loader,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return text, html


def render_alert(view: AlertView, lang: str) -> RenderedAlert:
    """The e-mail about ``view`` in ``lang``; the subject is a single line."""
    parts = compose(view, lang)
    text_env, html_env = _environments()
    text = text_env.get_template("alert.txt.j2").render(view=view, parts=parts)
    html = html_env.get_template("alert.html.j2").render(view=view, parts=parts)
    subject = re.sub(r"[\r\n\t]+", " ", parts.subject).strip()
    return RenderedAlert(subject=subject, text=text, html=html, lang=parts.lang)


def render_chat(view: AlertView, lang: str) -> RenderedAlert:
    """The same alert for a chat channel: the subject, then the facts and the advice as plain
    text (no e-mail footer, no HTML); the channel adds the account link from ``link``."""
    parts = compose(view, lang)
    subject = re.sub(r"[\r\n\t]+", " ", parts.subject).strip()
    lines = [parts.headline, *parts.facts]
    if parts.advice:
        lines.append(parts.advice)
    return RenderedAlert(subject=subject, text="\n".join(lines), html="", lang=parts.lang)
