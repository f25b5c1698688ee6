"""Adding an account, and logging an account in again: a wizard built from login schemes.

The first form comes from the plugin's :class:`~aggregator.core.login.LoginScheme` (identifier
kinds, secret, extra fields, SSO identity providers). Each answer of the operator is either a
session or a :class:`~aggregator.core.flows.Challenge`; a challenge becomes a wizard step (a
captcha picture, a one-time code naming its masked destination, an SSO button that goes to the
identity provider and comes back to ``/accounts/sso/callback``, a new password). With a
session, a login that holds several numbers lets the user choose which to link.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from ...accounts import (
    credentials_after_new_password,
    open_credentials,
)
from ...core.errors import (
    AggregatorError,
    AuthError,
    CodeRejected,
    FlowExpired,
    NotSupported,
    OperationRejected,
)
from ...core.flows import Challenge, ChallengeAnswer, ChallengeKind, Session
from ...core.login import Credentials, IdentifierKind, LoginScheme, SecretKind
from ...core.provider import Provider
from ...core.recovery import RecoveryDone, RecoveryOutcome
from ...core.secret import Secret
from ...services import accounts as accounts_service
from ...services import recovery as recovery_service
from ...services.dashboard import get_account
from ...services.errors import BadInput
from ...storage.models import LinkedAccount
from ...vault import VaultError
from ..context import CurrentUser
from ..flows import PendingFlow
from ..integration import kick_polling
from ..rendering import page, request_lang, translate
from .common import DB, Server, form_data, form_lists, redirect, require_user
from .pages_common import provider_class

__all__ = ["ROUTES", "sso_callback_url"]


def sso_callback_url(server: Server) -> str:
    return f"{server.settings.dashboard_url}/accounts/sso/callback"


def _provider(server: Server, provider_id: str) -> type[Provider]:
    cls = provider_class(server, provider_id)
    if cls is None:
        raise NotFoundException("no such operator")
    return cls


def _scheme(cls: type[Provider], scheme_id: str | None) -> LoginScheme:
    if scheme_id:
        for scheme in cls.login_schemes:
            if scheme.id == scheme_id:
                return scheme
        raise NotFoundException("no such login scheme")
    return cls.login_schemes[0]


@get("/accounts/add", include_in_schema=False)
async def choose_operator(request: Request[Any, Any, Any], server: Server) -> Response[Any]:
    require_user(request)
    runtime = server.require_runtime()
    providers = sorted(runtime.registry.providers.values(), key=lambda c: c.id == "reference")
    return page(request, "add_account.html", providers=providers)


def _login_form(
    request: Request[Any, Any, Any],
    cls: type[Provider],
    scheme: LoginScheme,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    error_text: str | None = None,
    errors: dict[str, str] | None = None,
    relogin: LinkedAccount | None = None,
    status_code: int = 200,
    notice: str | None = None,
) -> Response[Any]:
    return page(
        request,
        "login_form.html",
        status_code=status_code,
        provider=cls,
        scheme=scheme,
        values=values or {},
        error=error,
        error_text=error_text,
        errors=errors or {},
        notice=notice,
        relogin=relogin,
        action=f"/accounts/{relogin.id}/relogin" if relogin else f"/accounts/add/{cls.id}",
    )


def _field_errors(
    request: Request[Any, Any, Any], scheme: LoginScheme, form: dict[str, str]
) -> dict[str, str]:
    """What is wrong with each field of a login form, in the page's language, at the field
    (``identifier``, ``extra_<name>``): the plugin's own check, the plugin's words for it."""
    lang = request_lang(request)
    errors: dict[str, str] = {}

    def said(hint_ru: str, hint_en: str, example: str = "") -> str:
        words = (hint_en if lang == "en" else hint_ru) or translate(request, "wizard.invalid_input")
        if example:
            words = f"{words.rstrip('.')}. {translate(request, 'wizard.example', example=example)}"
        return words

    for extra in scheme.extra_fields:
        try:
            extra.normalise(form.get(f"extra_{extra.name}"))
        except ValueError:
            errors[f"extra_{extra.name}"] = said(extra.hint_ru, extra.hint_en)
    if scheme.identifiers and scheme.secret is not SecretKind.SSO:
        try:
            kind = form.get("identifier_kind") or None
            spec = scheme.identifier(kind) if kind else scheme.identifiers[0]
        except ValueError:
            spec = scheme.identifiers[0]
        try:
            spec.normalise(form.get("identifier", ""))
        except ValueError:
            if spec.kind is IdentifierKind.PHONE:
                errors["identifier"] = translate(
                    request, "wizard.expect_phone", example=spec.example or "+7 903 123-45-67"
                )
            elif spec.kind is IdentifierKind.EMAIL:
                errors["identifier"] = translate(request, "form.email_invalid")
            else:
                errors["identifier"] = said(spec.hint_ru, spec.hint_en, spec.example)
        if scheme.secret is SecretKind.PASSWORD and not form.get("password"):
            errors["password"] = translate(request, "wizard.password_required")
    return errors


@get("/accounts/add/{provider_id:str}", include_in_schema=False)
async def login_form(
    request: Request[Any, Any, Any],
    server: Server,
    provider_id: FromPath[str],
    scheme: FromQuery[str | None] = None,
) -> Response[Any]:
    require_user(request)
    cls = _provider(server, provider_id)
    return _login_form(request, cls, _scheme(cls, scheme))


@post("/accounts/add/{provider_id:str}", include_in_schema=False)
async def login_submit(
    request: Request[Any, Any, Any], db: DB, server: Server, provider_id: FromPath[str]
) -> Response[Any]:
    user = require_user(request)
    cls = _provider(server, provider_id)
    form = await form_data(request)
    return await _start(request, db, server, user, cls, form, relogin=None)


async def _start(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    user: CurrentUser,
    cls: type[Provider],
    form: dict[str, str],
    *,
    relogin: LinkedAccount | None,
) -> Response[Any]:
    scheme = _scheme(cls, form.get("scheme"))
    values = {k: v for k, v in form.items() if k not in ("password", "_csrf")}
    extras = {field.name: form.get(f"extra_{field.name}") for field in scheme.extra_fields}
    try:
        credentials = scheme.build_credentials(
            form.get("identifier", ""),
            form.get("password") or None,
            identifier_kind=form.get("identifier_kind") or None,
            extras=extras,
            sso_provider=form.get("sso_provider") or None,
        )
    except ValueError as exc:
        errors = _field_errors(request, scheme, form)
        return _login_form(
            request,
            cls,
            scheme,
            values=values,
            error="form.check_fields" if errors else "wizard.invalid_input",
            error_text=None if errors else str(exc),
            errors=errors,
            relogin=relogin,
            status_code=400,
        )
    flow = server.flows.start(
        web_session=user.session_id,
        household_id=user.household_id,
        user_id=user.user_id,
        purpose="relogin" if relogin else "link",
        provider_id=cls.id,
        scheme_id=scheme.id,
        credentials=credentials,
        label=form.get("label", "").strip()[:200],
        values=values,
        account_id=relogin.id if relogin else None,
    )
    provider = server.require_runtime().provider(cls.id)
    try:
        result = await provider.start_login(credentials)
    except AuthError as exc:
        server.flows.drop(flow.token)
        return _login_form(
            request,
            cls,
            scheme,
            values=values,
            error=None,
            error_text=_error_text(request, server, exc),
            relogin=relogin,
            status_code=400,
        )
    return await _advance(request, db, server, user, flow, result)


async def _advance(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    user: CurrentUser,
    flow: PendingFlow,
    result: Session | Challenge,
) -> Response[Any]:
    """Show the next step: another challenge, the choice of numbers, or the linked accounts."""
    if isinstance(result, Challenge):
        flow.challenge = result
        flow.error_key = flow.error_text = None
        server.flows.touch(flow)
        return redirect(request, f"/flows/{flow.token}")
    flow.challenge = None
    flow.session = result
    provider = server.require_runtime().provider(flow.provider_id)
    subaccounts = await accounts_service.found_subaccounts(provider, result)
    flow.subaccounts = subaccounts
    if flow.purpose == "relogin":
        return await _finish_relogin(request, db, server, user, flow)
    if len(subaccounts) > 1:
        server.flows.touch(flow)
        return redirect(request, f"/flows/{flow.token}")
    return await _link(request, db, server, user, flow, [s.id for s in subaccounts])


async def _link(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    user: CurrentUser,
    flow: PendingFlow,
    chosen_ids: list[str],
) -> Response[Any]:
    assert flow.session is not None and flow.credentials is not None
    cls = _provider(server, flow.provider_id)
    chosen = [s for s in flow.subaccounts if s.id in set(chosen_ids)]
    linked = await accounts_service.link(
        db,
        server.require_vault(),
        server.require_runtime().provider(cls.id),
        household_id=user.household_id,
        credentials=_stored_credentials(flow.credentials),
        session=flow.session,
        chosen=chosen,
        label=flow.label,
        user_id=user.user_id,
    )
    server.flows.drop(flow.token)
    kick_polling(server)
    if len(linked) == 1:
        return redirect(request, f"/accounts/{linked[0].id}?linked=1")
    return redirect(request, f"/?linked={len(linked)}")


def _stored_credentials(credentials: Credentials) -> Credentials:
    """What is kept for silent re-logins: one-time codes are never worth keeping."""
    return credentials


async def _finish_relogin(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    user: CurrentUser,
    flow: PendingFlow,
) -> Response[Any]:
    """A successful re-login renews every account of the same login (same login key)."""
    assert flow.session is not None and flow.credentials is not None and flow.account_id
    account = await get_account(db, user.household_id, flow.account_id)
    await accounts_service.relogin_done(
        db,
        server.require_vault(),
        account,
        credentials=flow.credentials,
        session=flow.session,
        user_id=user.user_id,
    )
    server.flows.drop(flow.token)
    kick_polling(server)
    return redirect(request, f"/accounts/{account.id}?relogin=1")


def _flow_or_404(server: Server, user: CurrentUser, token: str) -> PendingFlow:
    flow = server.flows.get(token, user.session_id)
    if flow is None or flow.purpose == "operation":
        raise FlowExpired("this step is no longer open; start again")
    return flow


@get("/flows/{token:str}", include_in_schema=False)
async def flow_step(
    request: Request[Any, Any, Any], db: DB, server: Server, token: FromPath[str]
) -> Response[Any]:
    user = require_user(request)
    flow = _flow_or_404(server, user, token)
    return _render_step(request, server, flow, linked=await _linked_ids(db, user, flow))


async def _linked_ids(db: DB, user: CurrentUser, flow: PendingFlow) -> set[str]:
    """The numbers of this operator the household has already linked (the choice step)."""
    if flow.session is None:
        return set()
    return await accounts_service.linked_subaccount_ids(db, user.household_id, flow.provider_id)


def _render_step(
    request: Request[Any, Any, Any],
    server: Server,
    flow: PendingFlow,
    *,
    status_code: int = 200,
    linked: set[str] | None = None,
    typed_answer: str = "",
) -> Response[Any]:
    cls = _provider(server, flow.provider_id)
    challenge = flow.challenge
    return page(
        request,
        "login_step.html",
        status_code=status_code,
        linked=linked or set(),
        flow=flow,
        provider=cls,
        challenge=challenge,
        resend_wait=challenge.resend_wait() if challenge is not None else None,
        can_restart=(flow.credentials is not None or flow.recovery is not None)
        and flow.purpose != "operation",
        error=flow.error_key,
        error_text=flow.error_text,
        typed_answer=typed_answer,
    )


@get("/flows/{token:str}/captcha", include_in_schema=False)
async def captcha_image(
    request: Request[Any, Any, Any], server: Server, token: FromPath[str]
) -> Response[Any]:
    user = require_user(request)
    flow = _flow_or_404(server, user, token)
    challenge = flow.challenge
    if challenge is None or challenge.image is None:
        raise NotFoundException("no picture")
    image_type = challenge.image_type if challenge.image_type.startswith("image/") else "image/png"
    return Response(
        challenge.image,
        media_type=image_type,
        headers={"Cache-Control": "no-store"},
    )


@post("/flows/{token:str}", include_in_schema=False)
async def flow_answer(
    request: Request[Any, Any, Any], db: DB, server: Server, token: FromPath[str]
) -> Response[Any]:
    user = require_user(request)
    flow = _flow_or_404(server, user, token)
    flow.notice_key = None
    form = await form_data(request)
    if flow.session is not None:  # choosing numbers
        known = {s.id for s in flow.subaccounts}
        chosen = [c for c in (await form_lists(request)).get("subaccount", []) if c in known]
        if not chosen:
            flow.error_key = "wizard.choose_one"
            linked = await _linked_ids(db, user, flow)
            return _render_step(request, server, flow, status_code=400, linked=linked)
        return await _link(request, db, server, user, flow, chosen)
    challenge = flow.challenge
    if challenge is None:
        raise FlowExpired("this step is no longer open")
    if flow.purpose == "recover":
        return await _recovery_answer(request, db, server, user, flow, challenge, form)
    if challenge.kind is ChallengeKind.NEW_PASSWORD:
        password = form.get("new_password", "")
        try:
            recovery_service.check_new_password(
                challenge, password, form.get("new_password_confirm", "")
            )
        except BadInput as exc:
            _bad_input(request, server, flow, exc)
            return _render_step(request, server, flow, status_code=400)
        answer = ChallengeAnswer(new_password=Secret(password))
        if flow.credentials is not None:
            cls = _provider(server, flow.provider_id)
            flow.credentials = credentials_after_new_password(cls, flow.credentials, password)
    else:
        text = form.get("answer", "").strip()
        if not text:
            flow.error_key = "wizard.answer_required"
            return _render_step(request, server, flow, status_code=400)
        answer = ChallengeAnswer(text=Secret(text))
        if challenge.kind is ChallengeKind.CODE:  # a wrong code stays in its box, to correct
            return await _continue(request, db, server, user, flow, challenge, answer, typed=text)
    return await _continue(request, db, server, user, flow, challenge, answer)


async def _continue(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    user: CurrentUser,
    flow: PendingFlow,
    challenge: Challenge,
    answer: ChallengeAnswer,
    *,
    typed: str = "",
) -> Response[Any]:
    provider = server.require_runtime().provider(flow.provider_id)
    try:
        result = await provider.continue_login(challenge, answer)
    except FlowExpired as exc:
        # The operator's step timed out: offer the same login again, everything typed kept.
        return await _back_to_form(request, db, server, user, flow, exc)
    except CodeRejected as exc:
        # A wrong or stale code: stay on the step, say why in the operator's words, offer a
        # new code; the code typed stays in its box.
        _step_error(request, server, flow, exc)
        return _render_step(request, server, flow, status_code=400, typed_answer=typed)
    except AggregatorError as exc:
        if isinstance(exc, AuthError) and challenge.kind is not ChallengeKind.CODE:
            return await _back_to_form(request, db, server, user, flow, exc)
        _step_error(request, server, flow, exc)
        return _render_step(request, server, flow, status_code=400)
    return await _advance(request, db, server, user, flow, result)


def _step_error(
    request: Request[Any, Any, Any], server: Server, flow: PendingFlow, exc: AggregatorError
) -> None:
    flow.error_key = f"error.{exc.key}"
    flow.error_text = _error_text(request, server, exc)


def _error_text(request: Request[Any, Any, Any], server: Server, exc: AggregatorError) -> str:
    """What happened, the operator's own words, and what the person typing should do."""
    lang = request_lang(request)
    message, action = server.translator.error(lang, exc.key)
    if server.translator.has(f"wizard.action.{exc.key}", lang):
        action = server.translator.translate(lang, f"wizard.action.{exc.key}")
    reason = str(exc.details.get("reason") or "")
    if not reason and exc.message not in (exc.key, "") and _is_russian(exc.message):
        reason = exc.message  # InvalidCredentials carries the operator's words as its message
    said = ""
    if reason and reason != exc.key:
        said = f"{server.translator.translate(lang, 'error.operator_said')} «{reason}»"
    return " ".join(part for part in (message, said, action) if part)


def _is_russian(text: str) -> bool:
    """Operators answer in Russian; a plugin's own English note is not for the page."""
    return any("а" <= ch.lower() <= "я" or ch.lower() == "ё" for ch in text)


async def _back_to_form(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    user: CurrentUser,
    flow: PendingFlow,
    exc: AggregatorError | None,
) -> Response[Any]:
    """End the flow and show its login form again with everything typed (not the password)."""
    server.flows.drop(flow.token)
    cls = _provider(server, flow.provider_id)
    if flow.purpose == "recover":
        error_text = None
        if exc is not None:
            error_text = (
                server.translator.translate(request_lang(request), "wizard.step_expired")
                if isinstance(exc, FlowExpired)
                else _error_text(request, server, exc)
            )
        return _recover_form(
            request,
            cls,
            cls.recovery_scheme(flow.recovery.scheme if flow.recovery else None),
            values=flow.values,
            error_text=error_text,
            account_id=flow.account_id,
            status_code=400 if exc is not None else 200,
        )
    relogin = None
    if flow.account_id:
        relogin = await get_account(db, user.household_id, flow.account_id)
    error_text = None
    if isinstance(exc, FlowExpired):
        error_text = server.translator.translate(request_lang(request), "wizard.step_expired")
    elif exc is not None:
        _step_error(request, server, flow, exc)
        error_text = flow.error_text
    return _login_form(
        request,
        cls,
        _scheme(cls, flow.scheme_id),
        values=flow.values,
        error=None,
        error_text=error_text,
        relogin=relogin,
        status_code=400 if exc is not None else 200,
    )


@post("/flows/{token:str}/resend", include_in_schema=False)
async def flow_resend(
    request: Request[Any, Any, Any], db: DB, server: Server, token: FromPath[str]
) -> Response[Any]:
    """A new one-time code (or a new captcha picture) for the open login step.

    The operator's own resend when the plugin has one; otherwise the same login is started
    again with the credentials already typed, which makes the operator send a new code.
    """
    user = require_user(request)
    flow = _flow_or_404(server, user, token)
    challenge = flow.challenge
    if challenge is None:
        return redirect(request, f"/flows/{flow.token}")
    wait = challenge.resend_wait()
    if wait:
        flow.error_key = None
        flow.error_text = server.translator.translate(
            request_lang(request), "wizard.resend_wait", seconds=wait
        )
        return _render_step(request, server, flow, status_code=400)
    provider = server.require_runtime().provider(flow.provider_id)
    try:
        if challenge.kind is ChallengeKind.CODE and challenge.resend_after_s is not None:
            try:
                result: Session | Challenge = await provider.resend_code(challenge)
            except (NotSupported, CodeRejected):
                result = await _restart(server, flow)
        elif flow.purpose == "recover" and flow.recovery is not None:
            step = await recovery_service.start(provider, flow.recovery)
            return await _recovery_advance(request, db, server, user, flow, step)
        else:
            result = await _restart(server, flow)
    except OperationRejected as exc:
        _step_error(request, server, flow, exc)
        return _render_step(request, server, flow, status_code=400)
    except AggregatorError as exc:
        return await _back_to_form(request, db, server, user, flow, exc)
    response = await _advance(request, db, server, user, flow, result)
    if flow.challenge is not None and flow.challenge.kind is ChallengeKind.CODE:
        flow.notice_key = "wizard.resent"
    return response


async def _restart(server: Server, flow: PendingFlow) -> Session | Challenge:
    if flow.credentials is None:
        raise FlowExpired("nothing to start again with")
    provider = server.require_runtime().provider(flow.provider_id)
    return await provider.start_login(flow.credentials)


@post("/flows/{token:str}/cancel", include_in_schema=False)
async def flow_cancel(
    request: Request[Any, Any, Any], db: DB, server: Server, token: FromPath[str]
) -> Response[Any]:
    """Leave the step: back to the login form with what was typed."""
    user = require_user(request)
    flow = server.flows.get(token, user.session_id)
    if flow is None or flow.purpose == "operation":
        return redirect(request, "/accounts/add")
    return await _back_to_form(request, db, server, user, flow, None)


@get("/accounts/sso/callback", include_in_schema=False)
async def sso_callback(request: Request[Any, Any, Any], db: DB, server: Server) -> Response[Any]:
    """The identity provider sends the user back here; the flow is found by the web session."""
    user = require_user(request)
    flow = server.flows.latest_sso(user.session_id)
    if flow is None or flow.challenge is None:
        raise FlowExpired("no sign-in through an identity provider is waiting")
    answer = ChallengeAnswer(callback_url=str(request.url))
    return await _continue(request, db, server, user, flow, flow.challenge, answer)


@get("/accounts/{account_id:int}/relogin", include_in_schema=False)
async def relogin_form(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    cls = _provider(server, account.provider_id)
    scheme = _scheme(cls, account.login_scheme if _has_scheme(cls, account.login_scheme) else None)
    values: dict[str, str] = {}
    try:
        stored = open_credentials(server.require_vault(), account)
        values["identifier"] = stored.identifier
        if stored.identifier_kind is not None:
            values["identifier_kind"] = stored.identifier_kind.value
        values.update({f"extra_{k}": v for k, v in stored.extras.items() if k != "redirect_uri"})
    except (LookupError, VaultError, ValueError):
        pass
    return _login_form(request, cls, scheme, values=values, relogin=account)


def _has_scheme(cls: type[Provider], scheme_id: str) -> bool:
    return any(s.id == scheme_id for s in cls.login_schemes)


@post("/accounts/{account_id:int}/relogin", include_in_schema=False)
async def relogin_submit(
    request: Request[Any, Any, Any], db: DB, server: Server, account_id: FromPath[int]
) -> Response[Any]:
    user = require_user(request)
    account = await get_account(db, user.household_id, account_id)
    cls = _provider(server, account.provider_id)
    form = await form_data(request)
    return await _start(request, db, server, user, cls, form, relogin=account)


# -- password recovery ("Забыли пароль?") ------------------------------------------------------


def _recover_form(
    request: Request[Any, Any, Any],
    cls: type[Provider],
    scheme: Any,
    *,
    values: dict[str, str] | None = None,
    error_text: str | None = None,
    account_id: int | None = None,
    status_code: int = 200,
) -> Response[Any]:
    query = f"?account={account_id}" if account_id else ""
    back = f"/accounts/{account_id}/relogin" if account_id else f"/accounts/add/{cls.id}"
    return page(
        request,
        "recover_form.html",
        status_code=status_code,
        provider=cls,
        scheme=scheme,
        values=values or {},
        error_text=error_text,
        action=f"/accounts/add/{cls.id}/recover{query}",
        back_url=back,
    )


def _recovery_scheme_or_404(cls: type[Provider], scheme_id: str | None = None) -> Any:
    try:
        return cls.recovery_scheme(scheme_id)
    except ValueError:
        raise NotFoundException("this operator has no password recovery") from None


@get("/accounts/add/{provider_id:str}/recover", include_in_schema=False)
async def recover_form(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    provider_id: FromPath[str],
    account: FromQuery[int | None] = None,
) -> Response[Any]:
    """The first screen of "Забыли пароль?": who, where the code goes (and a region...)."""
    user = require_user(request)
    cls = _provider(server, provider_id)
    scheme = _recovery_scheme_or_404(cls)
    values: dict[str, str] = {}
    if account is not None:
        linked = await get_account(db, user.household_id, account)
        try:
            stored = open_credentials(server.require_vault(), linked)
            values["identifier"] = stored.identifier
            if stored.identifier_kind is not None:
                values["identifier_kind"] = stored.identifier_kind.value
        except (LookupError, VaultError, ValueError):
            pass
    return _recover_form(request, cls, scheme, values=values, account_id=account)


@post("/accounts/add/{provider_id:str}/recover", include_in_schema=False)
async def recover_submit(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    provider_id: FromPath[str],
    account: FromQuery[int | None] = None,
) -> Response[Any]:
    user = require_user(request)
    cls = _provider(server, provider_id)
    form = await form_data(request)
    scheme = _recovery_scheme_or_404(cls, form.get("scheme"))
    relogin = await get_account(db, user.household_id, account) if account else None
    values = {k: v for k, v in form.items() if k != "_csrf"}
    try:
        wanted = recovery_service.build_request(
            cls,
            scheme.id,
            form.get("identifier", ""),
            identifier_kind=form.get("identifier_kind") or None,
            extras={f.name: form.get(f"extra_{f.name}") for f in scheme.extra_fields},
            channel=form.get("channel") or None,
        )
    except BadInput as exc:
        return _recover_form(
            request,
            cls,
            scheme,
            values=values,
            error_text=exc.message,
            account_id=account,
            status_code=400,
        )
    flow = server.flows.start(
        web_session=user.session_id,
        household_id=user.household_id,
        user_id=user.user_id,
        purpose="recover",
        provider_id=cls.id,
        scheme_id=scheme.login_scheme,
        values={
            "identifier": wanted.identifier,
            "identifier_kind": wanted.identifier_kind.value,
            **{f"extra_{k}": v for k, v in wanted.extras.items()},
            "channel": wanted.channel,
        },
        account_id=relogin.id if relogin else None,
        recovery=wanted,
    )
    provider = server.require_runtime().provider(cls.id)
    try:
        step = await recovery_service.start(provider, wanted)
    except AggregatorError as exc:
        return await _back_to_form(request, db, server, user, flow, exc)
    return await _recovery_advance(request, db, server, user, flow, step)


async def _recovery_answer(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    user: CurrentUser,
    flow: PendingFlow,
    challenge: Challenge,
    form: dict[str, str],
) -> Response[Any]:
    provider = server.require_runtime().provider(flow.provider_id)
    try:
        step = await recovery_service.answer(
            provider,
            challenge,
            text=form.get("answer"),
            new_password=form.get("new_password"),
            confirm=form.get("new_password_confirm"),
        )
    except BadInput as exc:  # nothing was sent to the operator
        _bad_input(request, server, flow, exc)
        return _render_step(request, server, flow, status_code=400)
    except FlowExpired as exc:
        return await _back_to_form(request, db, server, user, flow, exc)
    except CodeRejected as exc:
        _step_error(request, server, flow, exc)
        return _render_step(request, server, flow, status_code=400)
    except AggregatorError as exc:
        if isinstance(exc, OperationRejected) and challenge.kind is ChallengeKind.NEW_PASSWORD:
            _step_error(request, server, flow, exc)
            return _render_step(request, server, flow, status_code=400)
        return await _back_to_form(request, db, server, user, flow, exc)
    return await _recovery_advance(request, db, server, user, flow, step)


async def _recovery_advance(
    request: Request[Any, Any, Any],
    db: DB,
    server: Server,
    user: CurrentUser,
    flow: PendingFlow,
    step: Challenge | RecoveryDone,
) -> Response[Any]:
    """The next recovery step; once the password is set, the login with it (and linking)."""
    if isinstance(step, Challenge):
        flow.challenge = step
        flow.error_key = flow.error_text = None
        server.flows.touch(flow)
        return redirect(request, f"/flows/{flow.token}")
    cls = _provider(server, flow.provider_id)
    if step.outcome is RecoveryOutcome.PASSWORD_SET and step.credentials is None:
        # Set, but the operator's recovery did not ask for what the login needs: the login
        # form, with what the recovery knew (the region...) filled in.
        server.flows.drop(flow.token)
        relogin = (
            await get_account(db, user.household_id, flow.account_id) if flow.account_id else None
        )
        scheme = _scheme(cls, flow.scheme_id)
        names = {f"extra_{f.name}" for f in scheme.extra_fields}
        return _login_form(
            request,
            cls,
            scheme,
            values={k: v for k, v in flow.values.items() if k in names},
            relogin=relogin,
            notice=server.translator.translate(request_lang(request), "recovery.log_in_now"),
        )
    if step.outcome is RecoveryOutcome.INSTRUCTIONS_SENT or step.credentials is None:
        server.flows.drop(flow.token)
        back = (
            f"/accounts/{flow.account_id}/relogin" if flow.account_id else f"/accounts/add/{cls.id}"
        )
        return page(request, "recover_done.html", provider=cls, done=step, back_url=back)
    flow.purpose = "relogin" if flow.account_id else "link"
    flow.credentials = step.credentials
    flow.scheme_id = step.credentials.scheme
    flow.challenge = None
    provider = server.require_runtime().provider(cls.id)
    try:
        result = await recovery_service.log_in(provider, step)
    except AggregatorError as exc:
        return await _back_to_form(request, db, server, user, flow, exc)
    response = await _advance(request, db, server, user, flow, result)
    flow.notice_key = "recovery.password_set"
    return response


def _bad_input(
    request: Request[Any, Any, Any], server: Server, flow: PendingFlow, exc: BadInput
) -> None:
    """A step's answer the application layer refused before sending it."""
    flow.error_key = exc.key
    problems = exc.values.get("problems")
    flow.error_text = None
    if isinstance(problems, list) and problems:
        flow.error_text = " ".join(
            server.translator.translate(request_lang(request), f"policy.{p}") for p in problems
        )


ROUTES = [
    recover_form,
    recover_submit,
    choose_operator,
    login_form,
    login_submit,
    flow_step,
    captcha_image,
    flow_answer,
    flow_resend,
    flow_cancel,
    sso_callback,
    relogin_form,
    relogin_submit,
]
