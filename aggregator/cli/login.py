"""Logging in at a terminal: credentials, challenges (captcha, code, SSO, new password) and
the choice of subaccounts; without a terminal every answer comes from an option, an
environment variable or stdin, or the command fails saying which option to give."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn
from urllib.parse import unquote

import typer

from .base import choose, fail, open_db
from .operator import Codes

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from ..core.flows import Challenge, ChallengeAnswer, Session
    from ..core.login import Credentials, ExtraField, LoginScheme
    from ..core.models import Subaccount
    from ..core.provider import Provider
    from ..core.recovery import RecoveryScheme
    from ..settings import Settings
    from ..vault import Vault
    from .sso_return import LoopbackReturn

__all__ = [
    "AllSubaccountsOption",
    "HouseholdOption",
    "InteractiveOption",
    "LabelOption",
    "SubaccountOption",
    "TerminalLogin",
    "choose_operator",
    "finish_login",
    "link_found",
    "open_linking",
    "parse_fields",
    "pick_subaccounts",
]

# The options every command that links accounts takes (accounts add, accounts recover).
SubaccountOption = Annotated[
    list[str] | None,
    typer.Option("--subaccount", help="Какой счёт добавить / subaccount id (repeatable)."),
]
AllSubaccountsOption = Annotated[
    bool, typer.Option("--all-subaccounts", help="Добавить все / link every subaccount.")
]
LabelOption = Annotated[str | None, typer.Option("--label", help="Подпись / label.")]
HouseholdOption = Annotated[int | None, typer.Option("--household", help="Семья / household id.")]
InteractiveOption = Annotated[
    bool | None,
    typer.Option(
        "--interactive/--no-interactive",
        help="Спрашивать недостающее / prompt for what is missing (default: on a terminal).",
    ),
]

#: After Enter, how long to wait for a browser still on its way back.
SSO_GRACE_S = 5.0


def parse_fields(values: Sequence[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"--field ждёт name=value / --field takes name=value, not {item!r}")
        fields[name.strip()] = value
    return fields


class TerminalLogin:
    """Collects credentials for a login scheme and answers challenges in the terminal."""

    def __init__(
        self, interactive: bool, new_password_env: str | None, codes: Codes | None = None
    ) -> None:
        self.interactive = interactive
        self.new_password_env = new_password_env
        self.codes = codes or Codes(interactive=interactive)
        self.new_password: str | None = None
        #: Where an SSO login's browser comes back to (``aggregator accounts add`` sets it).
        self.sso_return: LoopbackReturn | None = None

    def need(self, what: str, option: str) -> NoReturn:
        fail(f"не задано / missing: {what} ({option})")

    def identifier(
        self, scheme: LoginScheme | RecoveryScheme, kind: str | None, value: str | None
    ) -> tuple[str, str]:
        if not scheme.identifiers:
            return "", ""
        kinds = [(s.kind.value, f"{s.label_ru} / {s.label_en}") for s in scheme.identifiers]
        if kind is None:
            if len(kinds) == 1 or not self.interactive:
                kind = kinds[0][0]
            else:
                kind = choose("Чем входить? / Log in with:", kinds)
        spec = scheme.identifier(kind)
        while True:
            raw = value
            if raw is None:
                if not self.interactive:
                    self.need(spec.label_en, "--identifier")
                example = f" (например / e.g. {spec.example})" if spec.example else ""
                raw = str(typer.prompt(f"{spec.label_ru} / {spec.label_en}{example}"))
            try:
                return spec.kind.value, spec.normalise(raw)
            except ValueError as exc:
                if not self.interactive or value is not None:
                    raise
                typer.echo(f"{spec.hint_ru or exc} / {exc}", err=True)

    def extra(self, field: ExtraField, given: str | None) -> str | None:
        while True:
            value = given
            if value is None and self.interactive:
                if field.kind == "choice":
                    options = [(v, label) for v, label in field.choices]
                    if not field.required:
                        options.append(("", "—"))
                    value = choose(f"{field.label_ru} / {field.label_en}:", options)
                else:
                    value = str(
                        typer.prompt(
                            f"{field.label_ru} / {field.label_en}",
                            default="" if not field.required else None,
                            show_default=False,
                        )
                    )
            try:
                return field.normalise(value)
            except ValueError as exc:
                if not self.interactive or given is not None:
                    raise ValueError(f"{field.name}: {exc}") from None
                typer.echo(f"{field.hint_ru or exc} / {exc}", err=True)

    async def answer(self, challenge: Challenge) -> ChallengeAnswer:
        from ..core.flows import ChallengeAnswer, ChallengeKind
        from ..core.secret import Secret

        kind = challenge.kind
        if kind is ChallengeKind.CODE and self.codes.scripted:
            self.codes.announce(challenge)
            return ChallengeAnswer(text=Secret(self.codes.code(challenge)))
        if not self.interactive and not (
            kind is ChallengeKind.NEW_PASSWORD and self.new_password_env
        ):
            fail(
                f"оператор просит {kind.value} (шаг {challenge.step!r}); запустите в терминале / "
                f"the operator asks for {kind.value} at step {challenge.step!r}: "
                "run `aggregator accounts add` in a terminal to answer it"
                + (" (or give --code-env VAR / --code-stdin)" if kind is ChallengeKind.CODE else "")
            )
        if challenge.message:
            typer.echo(challenge.message)
        if kind is ChallengeKind.CAPTCHA:
            path = self._save_captcha(challenge)
            try:
                typer.echo(f"Картинка с кодом / captcha image: {path}")
                text = str(typer.prompt("Символы с картинки / characters in the picture"))
            finally:
                path.unlink(missing_ok=True)  # answered (or given up): the picture goes
            return ChallengeAnswer(text=Secret(text.strip()))
        if kind is ChallengeKind.CODE:
            channel = {"sms": "SMS", "email": "e-mail"}.get(challenge.channel or "", "")
            where = challenge.masked_destination or "?"
            typer.echo(f"Код отправлен ({channel}) на / a code was sent ({channel}) to {where}")
            code = str(typer.prompt("Код / code", hide_input=True))
            return ChallengeAnswer(text=Secret(code.strip()))
        if kind is ChallengeKind.SSO_REDIRECT:
            typer.echo("Откройте в браузере и войдите / open in a browser and log in:")
            typer.echo(f"  {challenge.url}")
            return ChallengeAnswer(callback_url=await self._sso_return(challenge))
        password = self._new_password(challenge)
        self.new_password = password
        return ChallengeAnswer(new_password=Secret(password))

    async def _sso_return(self, challenge: Challenge) -> str:
        """The address the browser came back to: caught on the loopback address the login
        sent it to, or pasted by the person (a browser on another machine)."""
        catcher = self.sso_return
        if catcher is None or not _mentions(challenge.url or "", catcher.url):
            url = typer.prompt(
                "Адрес, на который вас вернули / the URL you were sent back to",
                hide_input=True,
            )
            return str(url).strip()
        typer.echo(
            "Браузер вернётся сюда сам; тогда нажмите Enter. Если браузер на другой машине, "
            "вставьте адрес, на который он вернулся. / The browser comes back here by itself; "
            "then press Enter. If the browser is on another machine, paste the address it was "
            "sent back to."
        )
        while True:
            # The listener answers the browser from its own thread while this prompt waits.
            line = typer.prompt(
                "Enter / адрес (address)", default="", show_default=False, hide_input=True
            )
            if str(line).strip():
                return str(line).strip()
            returned = await catcher.wait(SSO_GRACE_S)
            if returned:
                return returned
            typer.echo(
                f"Браузер ещё не вернулся / the browser has not come back yet: {catcher.url}",
                err=True,
            )

    def _save_captcha(self, challenge: Challenge) -> Path:
        import tempfile

        suffix = "." + (challenge.image_type.split("/")[-1] or "png")
        handle, name = tempfile.mkstemp(prefix="aggregator-captcha-", suffix=suffix)
        with os.fdopen(handle, "wb") as out:
            out.write(challenge.image or b"")
        return Path(name)

    def _new_password(self, challenge: Challenge) -> str:
        policy = challenge.password_policy
        if self.new_password_env and not self.interactive:
            value = os.environ.get(self.new_password_env, "")
            if not value:
                fail(f"переменная {self.new_password_env} не задана / is not set")
            problems = policy.check(value) if policy else []
            if problems:
                fail("новый пароль не подходит / the new password breaks: " + ", ".join(problems))
            return value
        typer.echo("Оператор просит задать новый пароль / the operator asks for a new password.")
        if policy is not None and (policy.description_ru or policy.description_en):
            typer.echo(f"{policy.description_ru} / {policy.description_en}")
        while True:
            value = str(
                typer.prompt(
                    "Новый пароль / new password",
                    hide_input=True,
                    confirmation_prompt="Повторите / repeat",
                )
            )
            problems = policy.check(value) if policy else ([] if value else ["password.length"])
            if not problems:
                return value
            typer.echo("Не подходит / does not fit: " + ", ".join(problems), err=True)


def _mentions(url: str, address: str) -> bool:
    """Whether ``url`` sends the browser back to ``address`` (a query parameter, perhaps
    encoded again inside another one's)."""
    for _ in range(3):
        if address in url:
            return True
        url = unquote(url)
    return address in url


def pick_subaccounts(
    found: list[Subaccount], wanted: Sequence[str], take_all: bool, interactive: bool
) -> list[Subaccount]:
    from ..accounts import mask_number

    if take_all or (len(found) == 1 and not wanted):
        return found
    if wanted:
        by_id = {s.id: s for s in found}
        missing = [w for w in wanted if w not in by_id]
        if missing:
            known = ", ".join(by_id) or "—"
            fail(
                f"нет таких счетов / no such subaccounts: {', '.join(missing)} "
                f"(есть / have: {known})"
            )
        return [by_id[w] for w in wanted]
    if not interactive:
        fail(
            "укажите --subaccount ID или --all-subaccounts / give --subaccount or --all-subaccounts"
        )
    typer.echo("Под этим входом есть счета / this login holds:")
    for i, sub in enumerate(found, 1):
        label = f" — {sub.label}" if sub.label else ""
        typer.echo(f"  {i}) {mask_number(sub.number, sub.kind)}{label} ({sub.kind}) [{sub.id}]")
    while True:
        answer = str(
            typer.prompt("Какие добавить (1,3 или all) / which to link (1,3 or all)", default="all")
        ).strip()
        if answer.lower() in ("all", "все"):
            return found
        picked = [p.strip() for p in answer.split(",") if p.strip()]
        if picked and all(p.isdigit() and 1 <= int(p) <= len(found) for p in picked):
            return [found[int(p) - 1] for p in dict.fromkeys(picked)]
        typer.echo("Введите номера через запятую / numbers separated by commas", err=True)


async def finish_login(
    provider: Provider, first: Session | Challenge, login: TerminalLogin
) -> Session:
    """Answer the operator's challenges in the terminal until the login is a session."""
    from ..core.flows import Session

    result = first
    for _ in range(10):
        if isinstance(result, Session):
            return result
        result = await provider.continue_login(result, await login.answer(result))
    if not isinstance(result, Session):
        fail("вход не завершился / the login did not finish")
    return result


async def link_found(
    engine: AsyncEngine,
    vault: Vault,
    provider: Provider,
    *,
    household_id: int,
    credentials: Credentials,
    session: Session,
    wanted: Sequence[str],
    all_subaccounts: bool,
    label: str | None,
    interactive: bool,
) -> list[tuple[int, str, str]]:
    """The accounts a fresh login reaches, chosen (``--subaccount``, ``--all-subaccounts`` or
    asked), labelled and linked through the application layer: ``(id, label, masked number)``
    of each linked row."""
    from ..services import accounts as accounts_service
    from ..storage.db import session_factory

    found = await accounts_service.found_subaccounts(provider, session)
    if wanted and not found:
        fail("у этого входа нет отдельных счетов / this login has no subaccounts")
    chosen = pick_subaccounts(found, wanted, all_subaccounts, interactive) if found else []
    if label is None:
        label = (
            str(typer.prompt("Подпись / label", default="", show_default=False))
            if interactive
            else ""
        )
    async with session_factory(engine)() as db:
        linked = await accounts_service.link(
            db,
            vault,
            provider,
            household_id=household_id,
            credentials=credentials,
            session=session,
            chosen=chosen,
            label=label,
        )
        return [(a.id, a.label, a.number_masked) for a in linked]


def choose_operator(
    providers: Mapping[str, type[Provider]],
    chosen: str | None,
    login: TerminalLogin,
    none_message: str,
) -> str:
    """The operator given (``--provider``), else asked among ``providers`` on a terminal."""
    if chosen is not None:
        return chosen
    if not login.interactive:
        login.need("operator", "--provider")
    options = [(pid, f"{cls.name} ({cls.name_en})") for pid, cls in sorted(providers.items())]
    if not options:
        fail(none_message)
    return choose("Оператор / operator:", options)


@asynccontextmanager
async def open_linking(
    settings: Settings, household_id: int | None
) -> AsyncIterator[tuple[AsyncEngine, Vault, int]]:
    """What linking from a terminal needs: the database (its schema current), the vault and
    the household the accounts go to (``--household``, or the only one)."""
    from ..services import accounts as accounts_service
    from ..storage.db import session_factory
    from ..storage.keycheck import open_vault

    engine = await open_db(settings)
    try:
        vault = await open_vault(settings, engine)
        async with session_factory(engine)() as db:
            household = (await accounts_service.the_household(db, household_id)).id
        yield engine, vault, household
    finally:
        await engine.dispose()
