"""Login schemes as data: identifier normalisation, extra fields, password policies."""

from __future__ import annotations

import pytest

from aggregator import (
    ExtraField,
    IdentifierKind,
    IdentifierSpec,
    LoginScheme,
    PasswordPolicy,
    SecretKind,
    SsoProvider,
    normalise_phone,
)


@pytest.mark.parametrize(
    "typed",
    ["+7 (903) 123-45-67", "8 903 123 45 67", "89031234567", "9031234567", " +79031234567 "],
)
def test_beeline_phone_variants_normalise_to_ten_digits(typed: str) -> None:
    assert normalise_phone(typed) == "9031234567"


@pytest.mark.parametrize("bad", ["12345", "+1 555 123 4567", "abc", "903123456"])
def test_bad_phone_is_rejected_with_a_message(bad: str) -> None:
    with pytest.raises(ValueError, match="10 digits"):
        normalise_phone(bad)


ROSTELECOM_LS = IdentifierSpec(
    kind=IdentifierKind.ACCOUNT_NUMBER,
    label_ru="Лицевой счёт",
    label_en="Account number",
    pattern=r"\d{12}",
    hint_en="12 digits",
)


def test_account_number_pattern_and_cleanup() -> None:
    assert ROSTELECOM_LS.normalise("1234 5678 9012") == "123456789012"
    with pytest.raises(ValueError, match="12 digits"):
        ROSTELECOM_LS.normalise("12345")


def test_scheme_builds_credentials_with_extras() -> None:
    scheme = LoginScheme(
        id="password",
        title_ru="Логин и пароль",
        title_en="Login and password",
        identifiers=[IdentifierSpec(kind=IdentifierKind.LOGIN, label_ru="Логин", label_en="Login")],
        extra_fields=[
            ExtraField(
                name="account_last3",
                label_ru="Последние 3 цифры лицевого счёта",
                label_en="Last 3 digits of the account",
                kind="digits",
                pattern=r"\d{3}",
                hint_en="three digits",
            )
        ],
    )
    creds = scheme.build_credentials("ivanov", "pw", extras={"account_last3": "042"})
    assert creds.extras == {"account_last3": "042"}
    assert creds.identifier_kind is IdentifierKind.LOGIN
    with pytest.raises(ValueError, match="three digits"):
        scheme.build_credentials("ivanov", "pw", extras={"account_last3": "42"})
    with pytest.raises(ValueError, match="required"):
        scheme.build_credentials("ivanov", "pw", extras={})
    with pytest.raises(ValueError, match="password"):
        scheme.build_credentials("ivanov", "", extras={"account_last3": "042"})


def test_sso_scheme_needs_a_listed_provider() -> None:
    scheme = LoginScheme(
        id="sso",
        title_ru="Вход через",
        title_en="Sign in with",
        secret=SecretKind.SSO,
        sso_providers=[SsoProvider.GOSUSLUGI, SsoProvider.VK],
    )
    assert scheme.build_credentials(sso_provider="vk").sso_provider is SsoProvider.VK
    with pytest.raises(ValueError):
        scheme.build_credentials(sso_provider="facebook")


def test_rostelecom_password_policy() -> None:
    policy = PasswordPolicy(
        min_length=8,
        max_length=20,
        require_upper=True,
        require_lower=True,
        require_digit=True,
        latin_only=True,
    )
    assert policy.check("Abcdefg1") == []
    assert "password.length" in policy.check("Ab1")
    assert "password.upper" in policy.check("abcdefg1")
    assert "password.digit" in policy.check("Abcdefgh")
    assert "password.latin" in policy.check("Abcdefg1ж")
    assert "password.length" in policy.check("A1" + "b" * 20)
