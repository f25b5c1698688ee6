"""Authentication: passwords, captcha, one-time codes, temporary passwords, sessions, lockout.

Captcha policy per subscriber (``Subscriber.captcha_policy``):
``never``; ``failures`` (after ``captcha_after`` failed attempts, the default); ``new_device``
(a login from a device id not seen before); ``always`` (Bashtel's form). A simulation fault
("captcha") or ``Subscriber.captcha_next`` demands one for the next login as well.

Lockout: ``lock_after`` failures in a row lock the login for ``lock_for`` (billing clock).
Sessions expire ``session_ttl`` after their last use (sliding). Code and session lifetimes are
real time (:meth:`DomainState.lifetime`): a fast billing clock does not make a code expire before a
person can type it. Lockouts stay on the billing clock.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import secrets
from typing import Any, Literal

from .captcha import ALPHABET, render_captcha
from .errors import (
    AccountLocked,
    CaptchaRequired,
    CodeInvalid,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    PasswordChangeRequired,
    Rejected,
    SessionExpired,
)
from .models import (
    Account,
    AuthResult,
    Captcha,
    ConfirmationTicket,
    OutboxMessage,
    Session,
    Subscriber,
)
from .state import (
    FORCED_FAULTS,
    DomainState,
    check_password,
    hash_password,
    mask_email,
    mask_phone,
)

__all__ = ["AuthMixin"]

Channel = Literal["sms", "email"]
MAX_CAPTCHAS = 5000
#: A new code may be asked for this long (real time) after the last one was sent.
RESEND_AFTER = dt.timedelta(seconds=30)


class AuthMixin(DomainState):
    # -- passwords -------------------------------------------------------------------------
    def set_password(self, sub: Subscriber, password: str, *, temporary: bool = False) -> None:
        sub.salt = os.urandom(16)
        sub.password_hash = hash_password(password, sub.salt)
        sub.temp_password = temporary

    # -- captcha ---------------------------------------------------------------------------
    def new_captcha(self, operator: str) -> Captcha:
        """Issue a captcha (random text, PNG); its answer is readable through the sim API."""
        text = "".join(self.rng.choice(ALPHABET) for _ in range(5))
        captcha = Captcha(
            secrets.token_urlsafe(12), operator, text, render_captcha(text, self.rng), self.now()
        )
        if len(self.captchas) >= MAX_CAPTCHAS:
            self.captchas.pop(next(iter(self.captchas)))
        self.captchas[captcha.id] = captcha
        self.latest_captcha[operator] = captcha
        return captcha

    def captcha(self, captcha_id: str) -> Captcha:
        try:
            return self.captchas[captcha_id]
        except KeyError:
            raise NotFound("Картинка устарела, обновите её") from None

    def check_captcha(self, captcha_id: str | None, answer: str | None) -> bool:
        """One try per captcha: a checked captcha is gone, right or wrong."""
        if not captcha_id or answer is None:
            return False
        captcha = self.captchas.pop(captcha_id, None)
        return captcha is not None and captcha.answer.lower() == answer.strip().lower()

    def captcha_needed(self, sub: Subscriber, device: str | None) -> bool:
        if "captcha" in FORCED_FAULTS.get() or sub.captcha_next:
            return True
        policy = sub.captcha_policy
        if policy == "always":
            return True
        if policy == "new_device":
            return device is None or device not in sub.known_devices
        if policy == "failures":
            return sub.failed_attempts >= self.operator(sub.operator).captcha_after
        return False

    def _gate(
        self,
        sub: Subscriber,
        device: str | None,
        captcha_id: str | None,
        captcha_answer: str | None,
    ) -> None:
        """Lockout, then captcha; raise when the login may not proceed."""
        now = self.now()
        if sub.locked_until is not None:
            if now < sub.locked_until:
                raise AccountLocked(sub.locked_until)
            sub.locked_until = None
            sub.failed_attempts = 0
        if self.captcha_needed(sub, device):
            if not captcha_id and not captcha_answer:
                raise CaptchaRequired(self.new_captcha(sub.operator))
            if not self.check_captcha(captcha_id, captcha_answer):
                raise CaptchaRequired(self.new_captcha(sub.operator), wrong=True)

    def _fail(self, sub: Subscriber) -> None:
        cfg = self.operator(sub.operator)
        sub.failed_attempts += 1
        if sub.failed_attempts >= cfg.lock_after:
            sub.locked_until = self.now() + cfg.lock_for
            sub.failed_attempts = 0
            raise AccountLocked(sub.locked_until)
        raise InvalidCredentials()

    def _succeed(
        self, sub: Subscriber, device: str | None, *, by_password: bool = True
    ) -> AuthResult:
        sub.failed_attempts = 0
        sub.captcha_next = False
        if device:
            sub.known_devices.add(device)
        restricted = by_password and sub.temp_password
        session = self.open_session(sub, device, restricted=restricted)
        return AuthResult(session, sub, restricted)

    def login_password(
        self,
        operator: str,
        identifier: str,
        password: str,
        *,
        kind: str | None = None,
        device: str | None = None,
        captcha_id: str | None = None,
        captcha_answer: str | None = None,
        account_digits: str | None = None,
    ) -> AuthResult:
        """Log in with a password.

        ``kind`` restricts the identifier ("login", "phone", "email", "account").
        ``account_digits``, when given, must equal the last 3 digits of one of the
        subscriber's account numbers (Bashtel). Raises InvalidCredentials, AccountLocked or
        CaptchaRequired (carrying a fresh captcha). The result's ``must_change_password`` is
        set after a login with a temporary password (the session is then restricted).
        """
        sub = self.find_subscriber(operator, identifier, kind)
        if sub is None:
            raise InvalidCredentials()
        self._gate(sub, device, captcha_id, captcha_answer)
        ok = check_password(password, sub.salt, sub.password_hash)
        if ok and account_digits is not None:
            ok = any(
                self.accounts[a].number[-3:] == account_digits.strip() for a in sub.account_ids
            )
        if not ok:
            self._fail(sub)
        return self._succeed(sub, device)

    # -- one-time codes ----------------------------------------------------------------------
    def send(
        self,
        operator: str,
        channel: Channel,
        destination: str,
        text: str,
        code: str | None = None,
        purpose: str = "",
    ) -> OutboxMessage:
        """Deliver an SMS or e-mail to the outbox (the sim API reads it)."""
        message = OutboxMessage(
            self.next_id(), operator, channel, destination, text, code, purpose, self.now()
        )
        self.outbox.append(message)
        return message

    def _destination(self, sub: Subscriber, channel: Channel) -> tuple[str, str]:
        if channel == "sms":
            if not sub.phone:
                raise Rejected("К учётной записи не привязан номер телефона")
            return sub.phone, mask_phone(sub.phone)
        if channel == "email":
            if not sub.email:
                raise Rejected("К учётной записи не привязан адрес электронной почты")
            return sub.email, mask_email(sub.email)
        raise InvalidInput("Способ доставки: sms или email")

    def issue_code(
        self,
        sub: Subscriber,
        purpose: str,
        channel: Channel = "sms",
        *,
        account: Account | None = None,
        params: dict[str, Any] | None = None,
    ) -> ConfirmationTicket:
        """Send a one-time code and return the ticket to answer with it."""
        cfg = self.operator(sub.operator)
        destination, masked = self._destination(sub, channel)
        code = "".join(self.rng.choice("0123456789") for _ in range(cfg.code_length))
        ticket = ConfirmationTicket(
            secrets.token_urlsafe(16),
            sub.operator,
            sub.id,
            purpose,
            code,
            channel,
            destination,
            masked,
            self.now() + self.lifetime(cfg.code_ttl),
            account.id if account else None,
            params or {},
            sent_at=self.now(),
        )
        self.tickets[ticket.id] = ticket
        self._send_code(ticket)
        return ticket

    def _send_code(self, ticket: ConfirmationTicket) -> None:
        cfg = self.operator(ticket.operator)
        code = ticket.code
        texts = {
            "login": f"Код для входа в личный кабинет {cfg.name}: {code}",
            "password_reset": f"Код для восстановления пароля {cfg.name}: {code}",
        }
        text = texts.get(
            ticket.purpose, f"Код подтверждения операции: {code}. Никому не сообщайте."
        )
        self.send(ticket.operator, ticket.channel, ticket.destination, text, code, ticket.purpose)

    def resend_after(self, ticket: ConfirmationTicket) -> int:
        """Real seconds until :meth:`resend_code` accepts this ticket (0: now)."""
        if ticket.sent_at is None:
            return 0
        left = ticket.sent_at + self.lifetime(RESEND_AFTER) - self.now()
        return max(0, math.ceil(left.total_seconds() / max(1.0, self.clock.speed)))

    def resend_code(self, ticket_id: str) -> ConfirmationTicket:
        """A new code for the same ticket (the old one stops working): new lifetime, new tries.

        Refused (``Rejected``) until :data:`RESEND_AFTER` has passed since the last send;
        ``CodeInvalid`` when the ticket is unknown or already used.
        """
        ticket = self.tickets.get(ticket_id) or self.retired_tickets.get(ticket_id)
        if ticket is None or ticket.used:
            raise CodeInvalid("Запрос устарел, начните заново")
        wait = self.resend_after(ticket)
        if wait > 0:
            raise Rejected(f"Новый код можно запросить через {wait} с")
        cfg = self.operator(ticket.operator)
        ticket.code = "".join(self.rng.choice("0123456789") for _ in range(cfg.code_length))
        ticket.expires_at = self.now() + self.lifetime(cfg.code_ttl)
        ticket.attempts = 0
        ticket.sent_at = self.now()
        self.retired_tickets.pop(ticket.id, None)
        self.tickets[ticket.id] = ticket
        self._send_code(ticket)
        return ticket

    def _retire(self, ticket: ConfirmationTicket) -> None:
        """An expired or exhausted ticket leaves ``tickets`` (dialects test membership for
        "attempts left") but a resend may revive it with a new code."""
        self.tickets.pop(ticket.id, None)
        if len(self.retired_tickets) >= MAX_CAPTCHAS:
            self.retired_tickets.pop(next(iter(self.retired_tickets)))
        self.retired_tickets[ticket.id] = ticket

    def check_code(
        self, ticket_id: str, code: str, purpose: str | None = None
    ) -> ConfirmationTicket:
        """Spend a ticket with its code; CodeInvalid when wrong, expired or used up."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None or ticket.used or (purpose and ticket.purpose != purpose):
            raise CodeInvalid()
        cfg = self.operator(ticket.operator)
        if self.now() > ticket.expires_at:
            self._retire(ticket)
            raise CodeInvalid("Срок действия кода истёк, запросите новый")
        if not secrets.compare_digest(ticket.code, code.strip()):
            ticket.attempts += 1
            if ticket.attempts >= cfg.code_attempts:
                self._retire(ticket)
                raise CodeInvalid("Превышено число попыток, запросите новый код")
            raise CodeInvalid()
        ticket.used = True
        del self.tickets[ticket_id]
        return ticket

    def send_login_code(
        self,
        operator: str,
        identifier: str,
        channel: Channel = "sms",
        *,
        kind: str | None = None,
        device: str | None = None,
        captcha_id: str | None = None,
        captcha_answer: str | None = None,
    ) -> ConfirmationTicket:
        """Start a login by one-time code; the same lockout and captcha rules apply."""
        sub = self.find_subscriber(operator, identifier, kind)
        if sub is None:
            raise InvalidCredentials("Пользователь не найден")
        self._gate(sub, device, captcha_id, captcha_answer)
        return self.issue_code(sub, "login", channel)

    def login_code(self, ticket_id: str, code: str, *, device: str | None = None) -> AuthResult:
        ticket = self.tickets.get(ticket_id)
        sub = self.subscribers.get(ticket.subscriber_id) if ticket else None
        try:
            self.check_code(ticket_id, code, "login")
        except CodeInvalid:
            if sub is not None:
                sub.failed_attempts += 1
            raise
        assert sub is not None
        return self._succeed(sub, device, by_password=False)  # a code proves the phone

    # -- temporary passwords and reset -------------------------------------------------------
    def issue_temp_password(self, sub: Subscriber, channel: Channel = "sms") -> OutboxMessage:
        """A temporary password by SMS (Beeline passReset); it must be changed after login."""
        destination, _ = self._destination(sub, channel)
        temp = "".join(self.rng.choice("0123456789") for _ in range(6))
        self.set_password(sub, temp, temporary=True)
        sub.locked_until, sub.failed_attempts = None, 0
        cfg = self.operator(sub.operator)
        return self.send(
            sub.operator,
            channel,
            destination,
            f"Временный пароль для входа в {cfg.name}: {temp}",
            temp,
            "temp_password",
        )

    def change_password(self, session: Session, old_password: str, new_password: str) -> None:
        sub = self.subscriber(session.subscriber_id)
        if not check_password(old_password, sub.salt, sub.password_hash):
            raise InvalidCredentials("Неверный текущий пароль")
        self._new_password(sub, new_password)
        session.restricted = False

    def replace_temporary_password(self, session: Session, new_password: str) -> None:
        """A permanent password instead of the temporary one the session logged in with.

        Beeline's ``1.0/setting/changePassword`` sends only the new password: the session of a
        temporary password is the proof. Any other session must give the old password
        (:meth:`change_password`)."""
        sub = self.subscriber(session.subscriber_id)
        if not (session.restricted or sub.temp_password):
            raise Rejected("Пароль не временный: укажите текущий пароль")
        self._new_password(sub, new_password)
        sub.temp_password = False
        session.restricted = False

    def _new_password(self, sub: Subscriber, password: str) -> None:
        problems = self.operator(sub.operator).password_problems(password)
        if problems:
            raise InvalidInput("; ".join(problems))
        if check_password(password, sub.salt, sub.password_hash):
            raise InvalidInput("Новый пароль должен отличаться от текущего")
        self.set_password(sub, password)
        for s in self.sessions.values():
            if s.subscriber_id == sub.id:
                s.restricted = False

    def start_password_reset(
        self, operator: str, identifier: str, channel: Channel = "sms", *, kind: str | None = None
    ) -> ConfirmationTicket:
        sub = self.find_subscriber(operator, identifier, kind)
        if sub is None:
            raise NotFound("Пользователь не найден")
        return self.issue_code(sub, "password_reset", channel)

    def finish_password_reset(self, ticket_id: str, code: str, new_password: str) -> Subscriber:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise CodeInvalid()
        sub = self.subscriber(ticket.subscriber_id)
        problems = self.operator(sub.operator).password_problems(new_password)
        if problems:
            raise InvalidInput("; ".join(problems))
        self.check_code(ticket_id, code, "password_reset")
        self.set_password(sub, new_password)
        sub.locked_until, sub.failed_attempts = None, 0
        return sub

    # -- sessions ------------------------------------------------------------------------------
    def open_session(
        self, sub: Subscriber, device: str | None = None, restricted: bool = False
    ) -> Session:
        cfg = self.operator(sub.operator)
        now = self.now()
        ttl = self.lifetime(cfg.session_ttl)
        session = Session(
            secrets.token_urlsafe(24),
            sub.id,
            sub.operator,
            now,
            now + ttl,
            ttl,
            device,
            restricted,
        )
        if sub.account_ids:
            session.current_account_id = sub.account_ids[0]
        self.sessions[session.token] = session
        return session

    def session(
        self, token: str | None, *, operator: str | None = None, allow_restricted: bool = False
    ) -> Session:
        """The live session for ``token``, renewed (sliding expiry).

        Raises SessionExpired (unknown, expired, other operator, or an "expired_session" or
        "captcha" fault) or PasswordChangeRequired (a temporary-password session, unless
        ``allow_restricted``).
        """
        session = self.sessions.get(token) if token else None
        if session is None or (operator is not None and session.operator != operator):
            raise SessionExpired()
        forced = FORCED_FAULTS.get()
        if forced and ("expired_session" in forced or "captcha" in forced):
            del self.sessions[session.token]
            if "captcha" in forced:
                self.subscribers[session.subscriber_id].captcha_next = True
            raise SessionExpired()
        now = self.now()
        if now >= session.expires_at:
            del self.sessions[session.token]
            raise SessionExpired()
        if session.restricted and not allow_restricted:
            raise PasswordChangeRequired()
        session.expires_at = now + session.ttl
        return session

    def logout(self, token: str) -> None:
        self.sessions.pop(token, None)

    def rotated(self, session: Session) -> Session | None:
        """Simulation (``rotate_tokens``): every authenticated call answers with a new token
        and the old one stops working at once, as operators that rotate their refresh
        tokens do. None when rotation is off."""
        if not getattr(self, "rotate_tokens", False):
            return None
        fresh = Session(
            secrets.token_urlsafe(24),
            session.subscriber_id,
            session.operator,
            session.created_at,
            session.expires_at,
            session.ttl,
            session.device,
            session.restricted,
            session.current_account_id,
            session.data,
        )
        self.sessions.pop(session.token, None)
        self.sessions[fresh.token] = fresh
        return fresh

    def expire_sessions(
        self,
        *,
        operator: str | None = None,
        subscriber_id: str | None = None,
        token: str | None = None,
    ) -> int:
        """Simulation: end sessions (all, or of an operator, subscriber or one token)."""
        doomed = [
            t
            for t, s in self.sessions.items()
            if (operator is None or s.operator == operator)
            and (subscriber_id is None or s.subscriber_id == subscriber_id)
            and (token is None or t == token)
        ]
        for t in doomed:
            del self.sessions[t]
        return len(doomed)

    def session_valid_until(self, session: Session) -> dt.datetime:
        return session.expires_at
