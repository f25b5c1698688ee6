"""Domain errors. Dialects catch :class:`DomainError` and render it in their operator's format.

Every error has a stable ``code`` (a dialect maps it onto its own error codes) and a Russian
``message`` fit for a user. None carries a secret.

    DomainError
    ├── InvalidInput          "invalid_input"        bad or missing field (400)
    ├── NotFound              "not_found"            no such account, tariff, ticket (404)
    ├── AuthFailure           "auth"                 (401)
    │   ├── InvalidCredentials    "invalid_credentials"
    │   ├── AccountLocked         "account_locked"        ``until``
    │   ├── CaptchaRequired       "captcha_required"      ``captcha`` (a fresh one) ; (401)
    │   ├── SessionExpired        "session_expired"
    │   ├── PasswordChangeRequired "password_change_required"
    │   └── CodeInvalid           "code_invalid"          wrong or expired one-time code
    ├── Forbidden             "forbidden"            the session does not own the account (403)
    └── Rejected              "rejected"             the operator refuses the operation (409)
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Captcha

__all__ = [
    "AccountLocked",
    "AuthFailure",
    "CaptchaRequired",
    "CodeInvalid",
    "DomainError",
    "Forbidden",
    "InvalidCredentials",
    "InvalidInput",
    "NotFound",
    "PasswordChangeRequired",
    "Rejected",
    "SessionExpired",
]


class DomainError(Exception):
    code: str = "error"
    status: int = 400
    default_message: str = "Ошибка"

    def __init__(self, message: str = "", **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


class InvalidInput(DomainError):
    code = "invalid_input"
    status = 400
    default_message = "Некорректные данные запроса"


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_message = "Не найдено"


class AuthFailure(DomainError):
    code = "auth"
    status = 401
    default_message = "Ошибка авторизации"


class InvalidCredentials(AuthFailure):
    code = "invalid_credentials"
    default_message = "Неверный логин или пароль"


class AccountLocked(AuthFailure):
    code = "account_locked"
    status = 423
    default_message = "Учётная запись временно заблокирована после неудачных попыток входа"

    def __init__(self, until: dt.datetime, message: str = "") -> None:
        super().__init__(message, until=until)
        self.until = until


class CaptchaRequired(AuthFailure):
    """A captcha must be solved; ``captcha`` is a freshly issued one (id + PNG)."""

    code = "captcha_required"
    default_message = "Введите символы с картинки"

    def __init__(self, captcha: Captcha, message: str = "", wrong: bool = False) -> None:
        super().__init__(message or ("Неверно введены символы с картинки" if wrong else ""))
        self.captcha = captcha
        self.wrong = wrong


class SessionExpired(AuthFailure):
    code = "session_expired"
    default_message = "Сессия истекла, войдите заново"


class PasswordChangeRequired(AuthFailure):
    code = "password_change_required"
    status = 403
    default_message = "Необходимо сменить временный пароль"


class CodeInvalid(AuthFailure):
    code = "code_invalid"
    default_message = "Неверный или просроченный код подтверждения"


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    default_message = "Нет доступа к этому счёту"


class Rejected(DomainError):
    code = "rejected"
    status = 409
    default_message = "Операция отклонена"
