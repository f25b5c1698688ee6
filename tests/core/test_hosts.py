"""Operators with several hosts (Rostelecom: passport and cabinet): declared by the provider,
served under the base URL by default, each pointed elsewhere by the settings."""

from __future__ import annotations

from typing import ClassVar

import httpx
import pytest

from aggregator import Host, LoginScheme, Provider, ProviderContext
from aggregator.plugins import PluginRegistry
from aggregator.runtime import Runtime
from aggregator.settings import Settings


class TwoHosts(Provider):
    id: ClassVar[str] = "twohosts"
    name: ClassVar[str] = "Два хоста"
    name_en: ClassVar[str] = "Two hosts"
    default_base_url: ClassVar[str] = "http://127.0.0.1:8081/twohosts"
    login_schemes: ClassVar[tuple[LoginScheme, ...]] = ()
    hosts: ClassVar[tuple[Host, ...]] = (
        Host("passport", "https://passport.example.ru", "passport"),
        Host("lk", "https://lk.example.ru", "lk"),
    )


def registry() -> PluginRegistry:
    reg = PluginRegistry()
    reg.providers[TwoHosts.id] = TwoHosts
    return reg


async def test_hosts_default_under_the_base_url() -> None:
    async with httpx.AsyncClient() as http:
        provider = TwoHosts(ProviderContext(http=http, base_url="http://h:1/twohosts/"))
        assert provider.host_url("passport") == "http://h:1/twohosts/passport"
        assert provider.host_url("lk") == "http://h:1/twohosts/lk"
        with pytest.raises(ValueError):
            provider.host_url("nope")


async def test_settings_point_each_host_elsewhere() -> None:
    settings = Settings(
        provider_urls={
            "twohosts": {
                "base": "http://ref:2/twohosts",
                "passport": "https://passport.example.ru/",
            }
        }
    )
    async with Runtime(settings, registry=registry()) as runtime:
        provider = runtime.provider("twohosts")
        assert provider.context.base_url == "http://ref:2/twohosts"
        assert provider.host_url("passport") == "https://passport.example.ru"
        assert provider.host_url("lk") == "http://ref:2/twohosts/lk"


async def test_a_plain_base_url_keeps_working() -> None:
    settings = Settings(provider_urls={"twohosts": "http://ref:3/x"})
    async with Runtime(settings, registry=registry()) as runtime:
        assert runtime.provider("twohosts").host_url("lk") == "http://ref:3/x/lk"


async def test_an_unknown_host_in_the_settings_is_a_clear_error() -> None:
    settings = Settings(provider_urls={"twohosts": {"lkk": "http://x"}})
    async with Runtime(settings, registry=registry()) as runtime:
        with pytest.raises(ValueError, match="no host 'lkk'"):
            runtime.provider("twohosts")


def test_the_environment_variable_takes_an_object_of_hosts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "AGGREGATOR_PROVIDER_URLS", '{"twohosts": {"lk": "https://lk.example.ru"}, "b": "http://b"}'
    )
    assert Settings().provider_urls == {
        "twohosts": {"lk": "https://lk.example.ru"},
        "b": "http://b",
    }
