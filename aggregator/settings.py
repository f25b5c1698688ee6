"""All settings in one typed object, read from ``AGGREGATOR_*`` environment variables.

Every field is documented in README.md (Configuration); a test checks that the README lists
each environment variable.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    port: int = Field(8000, description="The dashboard's port.")
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
    poll_interval_s: int = Field(3600, description="Default polling interval per account.")
    min_poll_interval_s: int = Field(300, description="No account is polled more often.")
    poll_jitter: float = Field(0.1, description="Random share of the interval added/removed.")
    per_operator_concurrency: int = Field(8, description="Polls at once per operator.")
    http_timeout_s: float = Field(20.0, description="Timeout of each request to an operator.")
    embedded_scheduler: bool = Field(True, description="Run scheduler+worker inside serve.")
    smtp_host: str | None = Field(None, description="SMTP server; unset = embedded mail sink.")
    smtp_port: int = Field(587, description="SMTP port.")
    smtp_tls: Literal["starttls", "ssl", "none"] = Field("starttls", description="SMTP TLS mode.")
    smtp_username: str | None = Field(None, description="SMTP login.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_from: str = Field("aggregator@localhost", description="The From address of alerts.")
    mail_sink_port: int = Field(8025, description="Port of the embedded SMTP sink.")
    log_level: str = Field("INFO", description="Logging level.")
    browser_executable: str = Field("/usr/bin/chromium", description="Chromium for logins.")

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
