"""Deterministic demo data: the Smirnov household with accounts at every operator.

The logins, passwords and numbers below are fixed (documented in DIALECTS.md); the seed only
varies history amounts, usage and the random texts (captchas, codes). Every account has a few
months of history: monthly payments and daily charges, ending at the balance listed here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .clock import first_of_next_month
from .core import Domain
from .models import Account, AccountKind, ChatAuthor, ChatMessage, Subscriber, Suspension

__all__ = ["DEMO_PASSWORDS", "IDP_PASSWORD", "populate_demo"]

IDP_PASSWORD = "sso-demo-2024"
DEMO_PASSWORDS = {
    "reference": "demo-password",
    "beeline": "Beeline-2024",
    "rostelecom": "Rostelecom2024",
    "bashtel": "Bashtel-2024",
    "netbynet": "Netbynet-2024",
}

HOUSEHOLD = "Иван Петрович Смирнов"
PHONE = "9031234567"
EMAIL = "ivan.smirnov@example.ru"


@dataclass
class _Block:
    start: int  # days from today (negative: in the past)
    end: int


def populate_demo(domain: Domain) -> None:
    d = domain
    pw = DEMO_PASSWORDS

    def subscriber(
        operator: str, login: str, password: str | None, *a: Any, **kw: Any
    ) -> Subscriber:
        """A subscriber whose password the demo page (``/sim/demo``) may show."""
        sub = d.create_subscriber(operator, login, password, *a, **kw)
        if password is not None:
            d.demo_passwords[sub.id] = password
        return sub

    # -- identities at the identity providers (one person, five providers) ------------------
    idps = {
        "gosuslugi": d.add_idp_identity(
            "gosuslugi", "ivan.smirnov", IDP_PASSWORD, HOUSEHOLD, EMAIL, PHONE
        ),
        "tbank": d.add_idp_identity("tbank", "+79031234567", IDP_PASSWORD, HOUSEHOLD, EMAIL, PHONE),
        "vk": d.add_idp_identity("vk", "ivan.smirnov@vk.com", IDP_PASSWORD, HOUSEHOLD, EMAIL),
        "ok": d.add_idp_identity("ok", "ivan.smirnov.ok", IDP_PASSWORD, HOUSEHOLD, EMAIL),
        "mailru": d.add_idp_identity(
            "mailru", "ivan.smirnov@mail.ru", IDP_PASSWORD, HOUSEHOLD, "ivan.smirnov@mail.ru"
        ),
    }
    d.add_idp_identity("gosuslugi", "stranger", IDP_PASSWORD, "Пётр Незнакомов")  # unlinked

    # -- reference ---------------------------------------------------------------------------
    demo = subscriber(
        "reference", "demo", pw["reference"], HOUSEHOLD, phone=PHONE, email=EMAIL, region="Москва"
    )
    a = _account(
        d,
        demo,
        "REF-0001",
        "mobile",
        "ref-basic",
        850_00,
        services=("ref-antispam",),
        label="Телефон Ивана",
    )
    _chat_history(d, a, "general")
    _account(
        d,
        demo,
        "REF-0002",
        "internet",
        "ref-home",
        45_50,
        label="Домашний интернет",
        address="Москва, ул. Лесная, д. 5, кв. 12",
    )
    _account(d, demo, "REF-0003", "tv", "ref-tv", 120_00, block=_Block(-5, 25), label="ТВ на даче")
    _account(d, demo, "REF-0004", "mobile", "ref-plus", -75_00, label="Телефон сына")
    for ident in idps.values():
        d.link_idp(demo, ident)
    cap = subscriber(
        "reference",
        "captcha",
        pw["reference"],
        "Мария Ивановна Смирнова",
        phone="9161234567",
        email="maria.smirnova@example.ru",
        captcha_policy="new_device",
    )
    _account(d, cap, "REF-0010", "mobile", "ref-basic", 300_00)
    temp = subscriber(
        "reference",
        "newbie",
        "temp-123456",
        "Алексей Смирнов",
        phone="9261234567",
        temp_password=True,
    )
    _account(d, temp, "REF-0020", "mobile", "ref-basic", 200_00)

    # -- beeline -----------------------------------------------------------------------------
    bee = subscriber("beeline", PHONE, pw["beeline"], HOUSEHOLD, phone=PHONE, email=EMAIL)
    a = _account(
        d, bee, PHONE, "mobile", "bee-vse4", 412_50, services=("bee-kto", "bee-hello"), label="Иван"
    )
    _chat_history(d, a, "general")
    maria = _account(d, bee, "9037654321", "mobile", "bee-up", 23_10, label="Мария")
    # A paid content subscription she never asked for (the seed: «со счета регулярно
    # списывается одинаковая сумма»); charged from tomorrow, removable in the cabinet.
    d.add_subscription(maria, "Гороскоп на каждый день", "ООО «Контент-Медиа»", 9_00)
    _account(
        d,
        bee,
        "9161112233",
        "mobile",
        "bee-vse6",
        -350_00,
        label="Служебный",
        pay_type="POSTPAID",
        credit_limit=1000_00,
    )
    _account(d, bee, "9169998877", "mobile", "bee-vse4", 60_00, block=_Block(-3, 20), label="Дача")
    _account(d, bee, "9168887766", "mobile", "bee-up", -12_40, label="Сын")
    nopw = subscriber("beeline", "9052223344", None, "Ольга Смирнова", phone="9052223344")
    _account(d, nopw, "9052223344", "mobile", "bee-vse4", 150_00)
    # A new user: the first login must accept the app's terms (Beeline's offerUrl).
    nopw.extra["offer_pending"] = True

    # -- rostelecom --------------------------------------------------------------------------
    rt = subscriber(
        "rostelecom",
        "smirnov.ivan",
        pw["rostelecom"],
        HOUSEHOLD,
        phone=PHONE,
        email=EMAIL,
        region="Москва",
    )
    a = _account(
        d,
        rt,
        "361000000001",
        "bundle",
        "rt-combo",
        1540_00,
        services=("rt-wink",),
        bonus=350_00,
        label="Квартира",
        address="Москва, ул. Лесная, д. 5, кв. 12",
    )
    _chat_history(d, a, "internet")
    _account(
        d,
        rt,
        "361000000002",
        "landline",
        "rt-phone",
        80_00,
        block=_Block(-10, 40),
        label="Телефон на даче",
        address="Московская обл., д. Сосновка, д. 3",
    )
    _account(d, rt, "361000000003", "mobile", "rt-mobile", 30_00, label="Мама (Смирнова Н. П.)")
    _account(d, rt, "361000000004", "internet", "rt-inet100", -210_00, label="Гараж")
    for ident in idps.values():
        d.link_idp(rt, ident)
    anna = subscriber(
        "rostelecom",
        "petrova.anna",
        "Petrova2024",
        "Анна Сергеевна Петрова",
        phone="9161234567",
        email="anna.petrova@example.ru",
        captcha_policy="new_device",
    )
    _account(d, anna, "361000000010", "internet", "rt-inet500", 700_00)

    # -- bashtel -----------------------------------------------------------------------------
    bt = subscriber(
        "bashtel",
        "smirnov_ufa",
        pw["bashtel"],
        HOUSEHOLD,
        phone="9371234567",
        email=EMAIL,
        region="Уфа",
    )
    a = _account(
        d,
        bt,
        "0274000123",
        "bundle",
        "bt-combo",
        620_00,
        services=("bt-tvplus",),
        address="Уфа, ул. Ленина, д. 10, кв. 4",
    )
    _chat_history(d, a, "support")
    _account(d, bt, "0274000456", "landline", "bt-phone", 15_00, address="Уфа, ул. Ленина, д. 10")
    iv = subscriber(
        "bashtel",
        "ivanova_ufa",
        pw["bashtel"],
        "Елена Ивановна Иванова",
        phone="9372223344",
        region="Уфа",
    )
    _account(d, iv, "0274000789", "internet", "bt-inet60", 200_00, block=_Block(-7, 30))
    pt = subscriber(
        "bashtel",
        "petrov_ufa",
        pw["bashtel"],
        "Олег Петров",
        phone="9373334455",
        region="Стерлитамак",
    )
    _account(d, pt, "0274000321", "internet", "bt-inet200", -95_00)

    # -- netbynet ----------------------------------------------------------------------------
    nb = subscriber(
        "netbynet",
        "500100200",
        pw["netbynet"],
        HOUSEHOLD,
        phone=PHONE,
        email=EMAIL,
        region="moscow",
    )
    _account(
        d,
        nb,
        "10020030",
        "internet",
        "nbn-300",
        900_00,
        bonus=120_00,
        services=("nbn-ip",),
        address="Москва, ул. Лесная, д. 5, кв. 12",
    )
    nb2 = subscriber(
        "netbynet",
        "500100201",
        pw["netbynet"],
        "Мария Ивановна Смирнова",
        phone="9161234567",
        email="maria.smirnova@example.ru",
        region="voronezh",
    )
    _account(
        d,
        nb2,
        "10020031",
        "internet",
        "nbn-100",
        300_00,
        block=_Block(-58, 30),
        address="Воронеж, пр. Революции, д. 1, кв. 7",
    )
    nb3 = subscriber(
        "netbynet",
        "500100202",
        pw["netbynet"],
        "Алексей Смирнов",
        phone="9261234567",
        region="kursk",
        captcha_policy="new_device",
    )
    _account(d, nb3, "10020032", "bundle", "nbn-tv", 20_00)
    nb4 = subscriber(
        "netbynet",
        "500100203",
        pw["netbynet"],
        "Наталья Смирнова",
        phone="9264445566",
        region="tambov",
    )
    _account(d, nb4, "10020033", "internet", "nbn-100", -40_00)


def _account(
    d: Domain,
    sub: Subscriber,
    number: str,
    kind: AccountKind,
    tariff: str,
    balance: int,
    *,
    services: tuple[str, ...] = (),
    block: _Block | None = None,
    days: int = 150,
    **kw: Any,
) -> Account:
    """An account with ``days`` of history (monthly payments, daily charges) ending at
    ``balance`` kopecks; ``block`` is a voluntary block relative to today."""
    today = d.clock.today()
    opened = today - dt.timedelta(days=days)
    acc = d.create_account(
        sub, number, kind=kind, tariff_id=tariff, opened=opened, services=services, **kw
    )
    fee = d.operator(sub.operator).tariff(tariff).fee  # type: ignore[union-attr]
    if block is not None:
        start = today + dt.timedelta(days=block.start)
        requested = d.msk(start - dt.timedelta(days=2), 11)
        acc.suspensions.append(
            Suspension(
                d.next_id(),
                start,
                today + dt.timedelta(days=block.end),
                requested,
                requested + dt.timedelta(hours=2),
            )
        )
    d._post(acc, fee * 2, "payment", "Первый платёж", d.msk(opened, 10), opened)
    month = first_of_next_month(opened)
    while month < today:
        pay_day = month + dt.timedelta(days=d.rng.randint(0, 4))
        if pay_day >= today:
            break
        d._accrue(acc, pay_day - dt.timedelta(days=1))
        amount = fee + d.rng.randint(0, 20) * 10_00
        d._post(
            acc,
            amount,
            "payment",
            "Пополнение: Банковская карта",
            d.msk(pay_day, d.rng.randint(9, 21), d.rng.randint(0, 59)),
        )
        month = first_of_next_month(month)
    d._accrue(acc, today)
    delta = balance - acc.balance
    at = max(d.msk(today), d.now() - dt.timedelta(hours=1))
    if delta > 0:
        d._post(acc, delta, "payment", "Пополнение: Банковская карта", at)
    elif delta < 0:
        d._post(acc, delta, "charge", "Разовое начисление: оборудование", at)
    return acc


def _chat_history(d: Domain, acc: Account, topic: str) -> None:
    """A past conversation: a bot answer, a forwarded question with the agent's (seen) reply,
    and one agent reply that arrived while the user was away (unseen)."""
    now = d.now()
    cfg = d.operator(acc.operator)
    agent = cfg.agent_names[0]

    def msg(
        author: ChatAuthor, text: str, ago: dt.timedelta, name: str | None = None, seen: bool = True
    ) -> None:
        acc.chat.append(
            ChatMessage(
                d.next_id(),
                acc.id,
                topic,
                author,
                text,
                now - ago,
                name,
                seen,
            )
        )

    msg("user", "Как узнать баланс?", dt.timedelta(days=6, hours=2))
    msg(
        "bot",
        "Баланс показан на главной странице личного кабинета.",
        dt.timedelta(days=6, hours=2),
        "Бот-помощник",
    )
    msg(
        "user",
        "Почему списали деньги за услугу, которую я не подключал?",
        dt.timedelta(days=2, hours=5),
    )
    msg("bot", "Передаю ваш вопрос специалисту.", dt.timedelta(days=2, hours=5), "Бот-помощник")
    msg(
        "agent",
        "Здравствуйте! Услуга подключена 10-го числа с вашего номера; мы её отключили "
        "и вернём списанную сумму в течение 3 дней.",
        dt.timedelta(days=2, hours=4),
        agent,
    )
    msg("user", "Когда будет перерасчёт?", dt.timedelta(hours=3))
    msg(
        "agent",
        "Перерасчёт выполнен, сумма вернулась на счёт.",
        dt.timedelta(hours=1),
        agent,
        seen=False,
    )
