"""Where the web assets (templates, static files, locales) live at run time.

In a checkout they are the top-level ``web/`` folder; in an installed wheel the same folder
ships inside the package as ``aggregator/_web`` (see the root pyproject's force-include).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["WebAssets", "find_web_dir"]

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # aggregator/


def find_web_dir() -> Path:
    """The folder holding ``templates/``, ``static/`` and ``locales/``."""
    candidates = (_PACKAGE_DIR / "_web", _PACKAGE_DIR.parent / "web")
    for candidate in candidates:
        if (candidate / "templates").is_dir() and (candidate / "static").is_dir():
            return candidate
    raise FileNotFoundError(
        "the web assets are missing: expected aggregator/_web or web/ next to the package"
    )


@dataclass
class WebAssets:
    """The web folder, with content hashes of static files for cache-busting URLs."""

    root: Path = field(default_factory=find_web_dir)
    _versions: dict[str, str] = field(default_factory=dict)

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @property
    def static(self) -> Path:
        return self.root / "static"

    @property
    def locales(self) -> Path:
        return self.root / "locales"

    def static_url(self, relative: str) -> str:
        """``/static/<relative>?v=<hash>``: a URL that changes when the file does."""
        version = self._versions.get(relative)
        if version is None:
            path = (self.static / relative).resolve()
            if not path.is_relative_to(self.static.resolve()) or not path.is_file():
                raise FileNotFoundError(f"no static file {relative!r}")
            version = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            self._versions[relative] = version
        return f"/static/{relative}?v={version}"
