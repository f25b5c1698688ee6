"""All settings in one typed object, read from ``AGGREGATOR_*`` environment variables.

Every field is documented in README.md (Configuration); a test checks that the README lists
each environment variable. Every field is checked when read (ranges, URL schemes, log levels):
a bad value stops the start with one line naming the variable and what it accepts.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AGGREGATOR_", extra="ignore")

    data_dir: Path = Field(Path(".data"), description="Where the database, key and mail live.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default SQLite in the data directory."
    )
    key_file: Path | None = Field(
        None, description="The vault key file; default <data_dir>/vault.key (mode 0600)."
    )
    vault_key: SecretStr | None = Field(
        None, description="Vault keys instead of a key file: 'id:base64key[,id:base64key]'."
    )
    host: str = Field("127.0.0.1", description="Where `aggregator serve` listens.")
    port: int = Field(8000, ge=1, le=65535, description="The dashboard's port.")
    public_url: str | None = Field(
        None, description="The dashboard's URL as users reach it (links in e-mails)."
    )
    secure_cookies: bool = Field(True, description="Mark cookies Secure (https or localhost).")
    provider_urls: dict[str, str | dict[str, str]] = Field(
        default_factory=dict,
        description='Base URL per operator id, JSON: {"beeline": "http://127.0.0.1:8081/beeline"}; '
        'an operator with several hosts takes an object of them, "base" included: '
        '{"rostelecom": {"passport": "https://b2c.passport.rt.ru", "lk": "https://lk.rt.ru"}}.',
    )
    poll_interval_s: int = Field(
        3600, ge=1, le=30 * 86400, description="Default polling interval per account."
    )
    min_poll_interval_s: int = Field(
        300, ge=0, le=86400, description="No account is polled more often."
    )
    poll_jitter: float = Field(
        0.1, ge=0.0, le=0.5, description="Random share of the interval added/removed."
    )
    per_operator_concurrency: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="Lowers every operator's declared limit of requests at once (all workers "
        "together); unset: as each plugin declares.",
    )
    per_operator_rate: float | None = Field(
        None,
        gt=0.0,
        le=10000.0,
        description="Lowers every operator's declared request-rate budget, requests per second "
        "(all workers together); unset: as each plugin declares.",
    )
    http_timeout_s: float = Field(
        20.0, gt=0.0, le=600.0, description="Timeout of each request to an operator."
    )
    embedded_scheduler: bool = Field(True, description="Run scheduler+worker inside serve.")
    smtp_host: str | None = Field(None, description="SMTP server; unset = embedded mail sink.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    smtp_tls: Literal["starttls", "ssl", "none"] = Field("starttls", description="SMTP TLS mode.")
    smtp_username: str | None = Field(None, description="SMTP login.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_from: str = Field("aggregator@localhost", description="The From address of alerts.")
    mail_sink_port: int = Field(8025, ge=1, le=65535, description="Port of the embedded SMTP sink.")
    notifier_urls: dict[str, str] = Field(
        default_factory=dict,
        description='API base URL per notification channel id, JSON: {"<notifier id>": '
        '"http://127.0.0.1:8081"} (a self-hosted or test server; default: the service\'s own).',
    )
    log_level: str = Field(
        "INFO", description="Logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL."
    )
    browser_executable: str = Field("/usr/bin/chromium", description="Chromium for logins.")
    browser_idle_s: float = Field(
        300.0,
        ge=5.0,
        le=86400.0,
        description="Close the shared Chromium after this many seconds without a login "
        "(it starts again for the next one).",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="When set, /metrics asks for 'Authorization: Bearer <token>' "
        "(/healthz stays open).",
    )

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in _LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level; use one of {', '.join(_LOG_LEVELS)}")
        return level

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None:
            _check_http_url(value, "the dashboard's URL")
        return value

    @field_validator("provider_urls")
    @classmethod
    def _provider_urls(
        cls, value: dict[str, str | dict[str, str]]
    ) -> dict[str, str | dict[str, str]]:
        for operator, urls in value.items():
            hosts = urls if isinstance(urls, dict) else {"base": urls}
            for host, url in hosts.items():
                _check_http_url(url, f"{operator} ({host})" if isinstance(urls, dict) else operator)
        return value

    @field_validator("notifier_urls")
    @classmethod
    def _notifier_urls(cls, value: dict[str, str]) -> dict[str, str]:
        for notifier, url in value.items():
            _check_http_url(url, notifier)
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'aggregator.db').resolve()}"

    @cached_property
    def resolved_key_file(self) -> Path:
        return self.key_file or self.data_dir / "vault.key"

    @property
    def dashboard_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _check_http_url(url: str, what: str) -> None:
    """An http(s) URL with a host, or ValueError naming ``what`` and the URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{url!r} for {what} is not an http:// or https:// URL with a host "
            "(operators are reached over HTTP only)"
        )
