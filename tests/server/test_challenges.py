"""Challenges as a person meets them: a wrong or stale code says why in the operator's words and
keeps the step; "send the code again" waits for the operator's countdown; a captcha can be
redrawn; cancel goes back to the form with everything typed; an expired step starts again with
the fields filled; the choice of numbers keeps "already linked" after a validation error."""

from __future__ import annotations

import datetime as dt
import re

from aggregator.core.flows import utcnow
from aggregator.server.flows import PendingFlow

from .conftest import Harness
from .test_journey_reference import FLOW, _accounts, _choose, _location, _start


def _flow(h: Harness, step: str) -> PendingFlow:
    found = FLOW.fullmatch(step)
    assert found is not None, step
    flow: PendingFlow = h.app.state.server.flows._flows[found.group(1)]
    return flow


def _age(flow: PendingFlow, seconds: int) -> None:
    """Pretend the code was sent ``seconds`` ago (the operator's resend countdown is real time)."""
    assert flow.challenge is not None
    flow.challenge = flow.challenge.model_copy(
        update={"sent_at": utcnow() - dt.timedelta(seconds=seconds)}
    )


async def test_wrong_code_then_resend_then_the_new_code(signed_in: Harness) -> None:
    h = signed_in
    step = await _start(h, "sms_code", identifier="+7 903 123-45-67", label="Семья")
    page = await h.page(step)
    assert "Отправить код ещё раз" in page.text and "data-countdown" in page.text
    first = await h.ref.last_code()

    wrong = await h.post(step, {"answer": "000000"})
    assert wrong.status_code == 400
    assert "Оператор не принял код." in wrong.text and "Неверный или просроченный код" in wrong.text
    assert "Автоматических попыток" not in wrong.text and "логин или пароль" not in wrong.text
    assert f'action="{step}"' in wrong.text  # still on the step
    assert 'value="000000" aria-invalid="true" aria-describedby="step-error"' in wrong.text

    early = await h.post(f"{step}/resend")
    assert early.status_code == 400 and "подождите" in early.text

    _age(_flow(h, step), 31)
    h.ref.backend.advance(seconds=31)  # the operator's own countdown (frozen billing clock)
    resent = await h.post(f"{step}/resend")
    assert _location(resent) == step
    page = await h.page(step)
    assert "Новый код отправлен" in page.text
    second = await h.ref.last_code()
    assert second != first or len(h.ref.backend.outbox_for("reference")) >= 2
    stale = await h.post(step, {"answer": first}) if first != second else None
    if stale is not None:
        assert stale.status_code == 400 and "Оператор не принял код." in stale.text
    done = await h.post(step, {"answer": second})
    await _choose(h, _location(done), "REF-0003")
    (account,) = await _accounts(h)
    assert account.label == "Семья"  # the label typed at the start survived it all


async def test_expired_code_says_so_and_a_resend_recovers(signed_in: Harness) -> None:
    h = signed_in
    step = await _start(h, "email_code", identifier="demo")
    code = await h.ref.last_code()
    h.ref.backend.advance(minutes=6)
    stale = await h.post(step, {"answer": code})
    assert stale.status_code == 400
    assert "Срок действия кода истёк" in stale.text
    _age(_flow(h, step), 31)
    assert _location(await h.post(f"{step}/resend")) == step
    done = await h.post(step, {"answer": await h.ref.last_code()})
    assert FLOW.fullmatch(_location(done))


async def test_cancel_and_an_expired_step_keep_what_was_typed(signed_in: Harness) -> None:
    h = signed_in
    step = await _start(h, "sms_code", identifier="+7 903 123-45-67", label="Дача")
    back = await h.post(f"{step}/cancel")
    assert back.status_code == 200
    assert 'value="+7 903 123-45-67"' in back.text and 'value="Дача"' in back.text
    assert (await h.page(step)).status_code != 200  # the step is closed

    # A captcha step whose operator state is gone: the form again, filled, not a dead end.
    step = await _start(h, "password", identifier="captcha", password="demo-password", label="М")
    flow = _flow(h, step)
    runtime = h.app.state.server.require_runtime()
    assert flow.challenge is not None
    await runtime.provider("reference").context.flows.take(flow.challenge.flow_id)
    expired = await h.post(step, {"answer": "whatever"})
    assert expired.status_code == 400
    assert "Шаг входа устарел" in expired.text and "Всё введённое сохранено" in expired.text
    assert 'value="captcha"' in expired.text and 'value="М"' in expired.text


async def test_captcha_can_be_redrawn(signed_in: Harness) -> None:
    h = signed_in
    step = await _start(h, "password", identifier="captcha", password="demo-password")
    page = await h.page(step)
    assert "Другая картинка" in page.text
    before = await h.client.get(f"{step}/captcha")
    redrawn = await h.post(f"{step}/resend")
    step = _location(redrawn)
    after = await h.client.get(f"{step}/captcha")
    assert after.status_code == 200 and after.content != before.content
    done = await h.post(step, {"answer": await h.ref.captcha_answer()})
    assert _location(done).startswith("/accounts/")


async def test_choice_keeps_already_linked_after_an_error(signed_in: Harness) -> None:
    h = signed_in
    step = await _start(h, "password", identifier="demo", password="demo-password")
    await _choose(h, step, "REF-0001")
    step = await _start(h, "password", identifier="demo", password="demo-password")
    nothing = await h.post(step, {})
    assert nothing.status_code == 400
    ticked = re.findall(r'value="[^"]+"( checked)?> (REF-\d+)', nothing.text)
    assert dict((n, bool(c)) for c, n in ticked)["REF-0001"] is False
    assert "уже добавлен" in nothing.text


async def _tariff_code_box(h: Harness) -> tuple[int, str, str]:
    from .test_journey_reference import _link_demo

    account_id = await _link_demo(h)
    tariffs = await h.htmx("GET", f"/accounts/{account_id}/tariffs")
    choice = re.search(r"tariffs/confirm\?tariff_id=([^\"&]+)", tariffs.text)
    assert choice is not None
    asked = await h.htmx("POST", f"/accounts/{account_id}/tariff", {"tariff_id": choice.group(1)})
    token = FLOW.search(asked.text)
    assert token is not None, asked.text[:500]
    return account_id, token.group(1), asked.text


async def test_operation_code_box_resends_and_cancels(signed_in: Harness) -> None:
    h = signed_in
    _, token, box = await _tariff_code_box(h)
    assert f"/flows/{token}/confirm/resend" in box and f"/flows/{token}/confirm/cancel" in box
    assert "data-countdown" in box
    wrong = await h.htmx("POST", f"/flows/{token}/confirm", {"code": "000000"})
    assert wrong.status_code == 400
    assert f'value="000000" aria-invalid="true" aria-describedby="code-error-{token[:8]}"' in (
        wrong.text
    )
    assert "Оператор не принял код." in wrong.text and "Неверный или просроченный код" in wrong.text
    early = await h.htmx("POST", f"/flows/{token}/confirm/resend")
    assert early.status_code == 400 and "подождите" in early.text
    old = await h.ref.last_code()
    _age(h.app.state.server.flows._flows[token], 31)  # type: ignore[arg-type]
    h.ref.backend.advance(seconds=31)
    resent = await h.htmx("POST", f"/flows/{token}/confirm/resend")
    assert resent.status_code == 200 and "Новый код отправлен" in resent.text
    new = await h.ref.last_code()
    if new != old:
        stale = await h.htmx("POST", f"/flows/{token}/confirm", {"code": old})
        assert stale.status_code == 400
    done = await h.htmx("POST", f"/flows/{token}/confirm", {"code": new})
    assert done.status_code == 200 and "Заявка на смену тарифа принята" in done.text

    _, token, _ = await _tariff_code_box(h)
    cancelled = await h.htmx("POST", f"/flows/{token}/confirm/cancel")
    assert cancelled.status_code == 200 and "Операция отменена" in cancelled.text
    gone = await h.htmx("POST", f"/flows/{token}/confirm", {"code": await h.ref.last_code()})
    assert gone.status_code != 200
