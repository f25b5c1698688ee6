"""What each operator sells and how it behaves: tariffs, services, rules, chat, news.

Static data, one :class:`OperatorConfig` per operator in :data:`OPERATORS`. Dates of news are
offsets in days from the billing clock's start so that the demo always looks fresh.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .models import ChatTopic, FaqEntry, ServiceDef, SuspensionRule, TariffDef

__all__ = ["OPERATORS", "REGIONS_NETBYNET", "SSO_PROVIDERS", "OperatorConfig"]

SSO_PROVIDERS = ("gosuslugi", "tbank", "vk", "ok", "mailru")
SSO_TITLES = {
    "gosuslugi": "Госуслуги",
    "tbank": "Т-Банк",
    "vk": "VK ID",
    "ok": "Одноклассники",
    "mailru": "Mail.ru",
}

REGIONS_NETBYNET = {
    "moscow": "Москва и Московская область",
    "voronezh": "Воронеж",
    "belgorod": "Белгород",
    "kursk": "Курск",
    "lipetsk": "Липецк",
    "tambov": "Тамбов",
}


@dataclass(frozen=True)
class OperatorConfig:
    id: str
    name: str  # as Russians call it
    name_en: str
    tariffs: tuple[TariffDef, ...]
    services: tuple[ServiceDef, ...]
    suspension: SuspensionRule
    topics: tuple[ChatTopic, ...]
    faq: tuple[FaqEntry, ...]
    news: tuple[tuple[int, str, str, str], ...]  # (days from start, kind, title, text)
    agent_delay_minutes: tuple[int, int] = (5, 15)
    agent_names: tuple[str, ...] = ("Анна", "Сергей", "Ольга")
    session_ttl: dt.timedelta = dt.timedelta(days=2)  # sliding: renewed on every use
    code_length: int = 6
    code_ttl: dt.timedelta = dt.timedelta(minutes=5)
    code_attempts: int = 3
    lock_after: int = 5  # failures before the lockout
    lock_for: dt.timedelta = dt.timedelta(minutes=30)
    captcha_after: int = 2  # failures before a captcha is demanded ("failures" policy)
    default_captcha_policy: str = "failures"
    confirm_operations: frozenset[str] = frozenset()  # operations needing a one-time code
    password_min: int = 6
    password_max: int = 64
    password_classes: bool = False  # upper + lower Latin + digit required
    extra: dict[str, object] = field(default_factory=dict)

    def tariff(self, tariff_id: str) -> TariffDef | None:
        return _TARIFF_INDEX[self.id].get(tariff_id)

    def service(self, service_id: str) -> ServiceDef | None:
        return _SERVICE_INDEX[self.id].get(service_id)

    def password_problems(self, password: str) -> list[str]:
        """Broken password rules, as Russian sentences; empty when the password is fine."""
        problems = []
        if not self.password_min <= len(password) <= self.password_max:
            problems.append(
                f"Пароль должен содержать от {self.password_min} до {self.password_max} символов"
            )
        if self.password_classes:
            if not any("a" <= c <= "z" for c in password) or not any(
                "A" <= c <= "Z" for c in password
            ):
                problems.append("Пароль должен содержать строчные и заглавные латинские буквы")
            if not any(c.isdigit() for c in password):
                problems.append("Пароль должен содержать цифры")
            if any(not ("!" <= c <= "~") for c in password):
                problems.append("Пароль может содержать только латинские буквы, цифры и знаки")
        return problems


def _rub(amount: float) -> int:
    return round(amount * 100)


_COMMON_FAQ = (
    FaqEntry(("баланс", "сколько денег", "остаток на счете"), "Ваш баланс: {balance}."),
    FaqEntry(
        ("тариф",),
        "Ваш тариф «{tariff}», абонентская плата {fee} в месяц. "
        "Сменить тариф можно в разделе «Тарифы»; новый тариф начнёт действовать "
        "с первого числа следующего месяца.",
    ),
    FaqEntry(
        ("пополн", "оплат", "заплатить"),
        "Пополнить счёт можно банковской картой в разделе "
        "«Платежи»; платёж подтверждается кодом из SMS. Можно настроить автоплатёж.",
    ),
    FaqEntry(
        ("блокир", "приостанов", "отпуск", "уезжа"),
        "Добровольную блокировку можно "
        "оформить в разделе «Блокировка»: укажите даты, стоимость покажем до подтверждения.",
    ),
    FaqEntry(
        ("пароль",),
        "Сменить пароль можно в профиле. Если вы забыли пароль, "
        "воспользуйтесь ссылкой «Забыли пароль?» на странице входа.",
    ),
)

OPERATORS: dict[str, OperatorConfig] = {}


def _register(config: OperatorConfig) -> None:
    OPERATORS[config.id] = config


_register(
    OperatorConfig(
        id="reference",
        name="Эталонный оператор",
        name_en="Reference operator",
        tariffs=(
            TariffDef(
                "ref-basic",
                "Базовый",
                _rub(300),
                "mobile",
                "300 минут, 100 SMS, 10 ГБ",
                minutes=300,
                sms=100,
                traffic_mb=10_240,
            ),
            TariffDef(
                "ref-plus",
                "Плюс",
                _rub(550),
                "mobile",
                "800 минут, 300 SMS, 30 ГБ",
                minutes=800,
                sms=300,
                traffic_mb=30_720,
            ),
            TariffDef(
                "ref-home",
                "Домашний 100",
                _rub(600),
                "internet",
                "Интернет 100 Мбит/с",
                speed_mbps=100,
            ),
            TariffDef(
                "ref-home500",
                "Домашний 500",
                _rub(900),
                "internet",
                "Интернет 500 Мбит/с",
                speed_mbps=500,
            ),
            TariffDef("ref-tv", "ТВ Семейный", _rub(350), "tv", "180 каналов"),
            TariffDef(
                "ref-old",
                "Архивный",
                _rub(200),
                "mobile",
                "Больше не подключается",
                minutes=100,
                sms=50,
                traffic_mb=2048,
                archived=True,
            ),
        ),
        services=(
            ServiceDef("ref-antispam", "Антиспам", 0, "Блокировка нежелательных звонков"),
            ServiceDef(
                "ref-roaming",
                "Роуминг без границ",
                _rub(99),
                "Интернет в поездках",
                kinds=("mobile",),
            ),
            ServiceDef(
                "ref-ip",
                "Статический IP-адрес",
                _rub(150),
                "Постоянный внешний адрес",
                kinds=("internet",),
            ),
            ServiceDef("ref-kino", "Онлайн-кинотеатр", _rub(299), "Фильмы и сериалы"),
            ServiceDef("ref-notify", "Уведомления о балансе", 0, "SMS при низком балансе"),
        ),
        suspension=SuspensionRule(
            free_days=30,
            daily_fee=_rub(3),
            max_days=180,
            description="Первые 30 дней бесплатно, далее 3 ₽ в сутки",
        ),
        topics=(
            ChatTopic("general", "Общий вопрос"),
            ChatTopic("billing", "Оплата и баланс"),
            ChatTopic("tech", "Техническая поддержка"),
        ),
        faq=_COMMON_FAQ,
        news=(
            (-3, "news", "Новый тариф «Плюс»", "Больше минут и гигабайт за ту же цену."),
            (-10, "offer", "Скидка 20% на онлайн-кинотеатр", "Три месяца со скидкой."),
            # past works: history, not a notice (Backend.announce publishes new ones)
            (-30, "maintenance", "Плановые работы", "Ночью возможны перерывы в работе сервиса."),
        ),
        agent_delay_minutes=(5, 15),
        confirm_operations=frozenset({"change_tariff", "top_up", "enable_paid_service"}),
    )
)

_register(
    OperatorConfig(
        id="beeline",
        name="Билайн",
        name_en="Beeline",
        tariffs=(
            TariffDef(
                "bee-vse4",
                "ВСЁ за 400",
                _rub(400),
                "mobile",
                "500 минут, 500 SMS, 20 ГБ",
                minutes=500,
                sms=500,
                traffic_mb=20_480,
            ),
            TariffDef(
                "bee-vse6",
                "ВСЁ за 650",
                _rub(650),
                "mobile",
                "1200 минут, 1000 SMS, 100 MMS, 40 ГБ",
                minutes=1200,
                sms=1000,
                mms=100,
                traffic_mb=40_960,
            ),
            TariffDef(
                "bee-up",
                "UP",
                _rub(550),
                "mobile",
                "Конструктор: 600 минут, 30 ГБ",
                minutes=600,
                sms=0,
                traffic_mb=30_720,
            ),
            TariffDef(
                "bee-home",
                "Домашний интернет 200",
                _rub(650),
                "internet",
                "Интернет 200 Мбит/с",
                speed_mbps=200,
            ),
            TariffDef(
                "bee-nol",
                "Ноль сомнений",
                _rub(0),
                "mobile",
                "Без абонентской платы",
                archived=True,
            ),
        ),
        services=(
            ServiceDef(
                "bee-kto", "Кто звонил", _rub(65), "SMS о пропущенных вызовах", kinds=("mobile",)
            ),
            ServiceDef("bee-hello", "Хамелеон", 0, "Информационные сообщения", kinds=("mobile",)),
            ServiceDef("bee-music", "Билайн Музыка", _rub(199), "Подписка на музыку"),
            ServiceDef(
                "bee-antiopred",
                "Антиопределитель номера",
                _rub(150),
                "Скрыть свой номер",
                kinds=("mobile",),
            ),
            ServiceDef("bee-trust", "Доверительный платёж", 0, "Кредит на 3 дня", can_toggle=False),
        ),
        suspension=SuspensionRule(
            free_days=None, max_days=90, description="Добровольная блокировка бесплатна до 90 дней"
        ),
        topics=(
            ChatTopic("general", "Общая консультация"),
            ChatTopic("services", "Вопрос по услугам"),
        ),
        faq=(
            *_COMMON_FAQ,
            FaqEntry(
                ("доверительн", "в долг", "обещанн"),
                "Доверительный платёж позволяет "
                "пользоваться связью 3 дня при нулевом балансе. Подключите его в разделе "
                "«Финансы».",
            ),
            FaqEntry(
                ("остат", "минут", "гигабайт", "трафик"),
                "Остатки минут, SMS и интернета показаны на главной странице в разделе «Остатки».",
            ),
        ),
        news=(
            (-1, "offer", "Билайн Музыка бесплатно 30 дней", "Подключите подписку в приложении."),
            (-7, "news", "Тарифы «ВСЁ» стали выгоднее", "Больше гигабайт без доплаты."),
        ),
        agent_delay_minutes=(5, 15),
        agent_names=("Специалист Мария", "Специалист Дмитрий"),
        session_ttl=dt.timedelta(days=30),
        code_length=6,
    )
)

_register(
    OperatorConfig(
        id="rostelecom",
        name="Ростелеком",
        name_en="Rostelecom",
        tariffs=(
            TariffDef(
                "rt-inet100",
                "Игровой 100",
                _rub(650),
                "internet",
                "Интернет 100 Мбит/с",
                speed_mbps=100,
            ),
            TariffDef(
                "rt-inet500",
                "Технологичный 500",
                _rub(950),
                "internet",
                "Интернет 500 Мбит/с",
                speed_mbps=500,
            ),
            TariffDef(
                "rt-combo",
                "Интернет + ТВ",
                _rub(1100),
                "bundle",
                "500 Мбит/с и 200 каналов",
                speed_mbps=500,
            ),
            TariffDef(
                "rt-phone",
                "Домашний телефон безлимитный",
                _rub(420),
                "landline",
                "Безлимитные местные вызовы",
            ),
            TariffDef(
                "rt-mobile",
                "Мобильный Оптимальный",
                _rub(450),
                "mobile",
                "600 минут, 100 SMS, 25 ГБ",
                minutes=600,
                sms=100,
                traffic_mb=25_600,
            ),
        ),
        services=(
            ServiceDef("rt-antivirus", "Антивирус Касперского", _rub(149), "Защита 2 устройств"),
            ServiceDef(
                "rt-wink",
                "Wink Трансформер",
                _rub(349),
                "Онлайн-кинотеатр",
                kinds=("tv", "bundle", "internet"),
            ),
            ServiceDef(
                "rt-ip",
                "Статический IP",
                _rub(200),
                "Постоянный адрес",
                kinds=("internet", "bundle"),
            ),
            ServiceDef("rt-caller", "Определитель номера", 0, "", kinds=("landline", "mobile")),
            ServiceDef(
                "rt-router",
                "Аренда роутера",
                _rub(100),
                "Wi-Fi роутер",
                kinds=("internet", "bundle"),
                can_toggle=False,
            ),
        ),
        suspension=SuspensionRule(
            free_days=90,
            daily_fee=_rub(2),
            max_days=180,
            description="Блокировка услуг до 90 дней бесплатно",
        ),
        topics=(
            ChatTopic("general", "Общие вопросы"),
            ChatTopic("internet", "Домашний интернет"),
            ChatTopic("billing", "Счета и оплата"),
        ),
        faq=(
            *_COMMON_FAQ,
            FaqEntry(
                ("бонус",),
                "Бонусные баллы программы «Бонус» начисляются за оплату услуг; "
                "их можно обменять на скидки.",
            ),
            FaqEntry(
                ("не работает интернет", "нет интернета", "пропал интернет"),
                "Перезагрузите роутер: отключите питание на 30 секунд. Если не поможет, "
                "специалист свяжется с вами.",
            ),
        ),
        news=(
            (-2, "news", "Wink: новые сериалы", "Смотрите премьеры недели."),
            (
                -14,
                "offer",
                "Скорость x2 за те же деньги",
                "Акция для абонентов домашнего интернета.",
            ),
            (1, "maintenance", "Профилактика на сети", "С 02:00 до 05:00 возможны перерывы."),
        ),
        agent_delay_minutes=(10, 20),
        session_ttl=dt.timedelta(days=1),
        code_length=6,
        captcha_after=2,
        confirm_operations=frozenset({"change_tariff", "top_up", "enable_paid_service"}),
        password_min=8,
        password_max=20,
        password_classes=True,
    )
)

_register(
    OperatorConfig(
        id="bashtel",
        name="Башинформсвязь",
        name_en="Bashinformsvyaz",
        tariffs=(
            TariffDef(
                "bt-inet60", "Летай 60", _rub(500), "internet", "Интернет 60 Мбит/с", speed_mbps=60
            ),
            TariffDef(
                "bt-inet200",
                "Летай 200",
                _rub(700),
                "internet",
                "Интернет 200 Мбит/с",
                speed_mbps=200,
            ),
            TariffDef(
                "bt-combo",
                "Летай Интернет + ТВ",
                _rub(850),
                "bundle",
                "200 Мбит/с и 150 каналов",
                speed_mbps=200,
            ),
            TariffDef("bt-phone", "Домашний телефон", _rub(300), "landline", "Повременная оплата"),
        ),
        services=(
            ServiceDef(
                "bt-tvplus",
                "Пакет «Кино»",
                _rub(199),
                "Дополнительные каналы",
                kinds=("bundle", "tv"),
            ),
            ServiceDef(
                "bt-ip", "Статический IP-адрес", _rub(150), "", kinds=("internet", "bundle")
            ),
            ServiceDef("bt-av", "Антивирус", _rub(99), "Защита компьютера"),
            ServiceDef("bt-parent", "Родительский контроль", 0, "Фильтр сайтов"),
        ),
        suspension=SuspensionRule(
            free_days=None,
            max_days=90,
            min_days=7,
            approval_delay=dt.timedelta(minutes=30),
            description="Добровольная блокировка на время отъезда: "
            "абонентская плата не начисляется",
        ),
        topics=(
            ChatTopic("support", "Техническая поддержка"),
            ChatTopic("quality", "Жалоба на качество связи"),
            ChatTopic("billing", "Вопросы по оплате"),
        ),
        faq=(
            *_COMMON_FAQ,
            FaqEntry(
                ("скорост", "спидтест", "speedtest"),
                "Проверить скорость можно в разделе "
                "«Тест скорости». Для точного замера подключите компьютер кабелем.",
            ),
        ),
        news=(
            (-4, "news", "Летай: новые каналы", "В пакет «Кино» добавлены 5 каналов."),
            (
                -30,  # past works: history; Backend.announce publishes new ones
                "maintenance",
                "Плановые работы в Уфе",
                "Возможны перерывы в работе интернета с 01:00 до 04:00.",
            ),
            (-20, "offer", "Интернет 200 Мбит/с по цене 60", "Три месяца для новых абонентов."),
        ),
        agent_delay_minutes=(2, 3),
        session_ttl=dt.timedelta(days=2),
        # A captcha on a device the cabinet does not know (and after failures): the device
        # cookie set at a successful login lets a silent re-login skip it (bashtel dialect).
        default_captcha_policy="new_device",
        confirm_operations=frozenset({"top_up"}),
    )
)

_register(
    OperatorConfig(
        id="netbynet",
        name="NetByNet",
        name_en="NetByNet",
        tariffs=(
            TariffDef(
                "nbn-100",
                "Wifire 100",
                _rub(550),
                "internet",
                "Интернет 100 Мбит/с",
                speed_mbps=100,
            ),
            TariffDef(
                "nbn-300",
                "Wifire 300",
                _rub(750),
                "internet",
                "Интернет 300 Мбит/с",
                speed_mbps=300,
            ),
            TariffDef(
                "nbn-tv", "Wifire 300 + ТВ", _rub(990), "bundle", "300 Мбит/с и ТВ", speed_mbps=300
            ),
        ),
        services=(
            ServiceDef("nbn-ip", "Статический IP", _rub(150), "", kinds=("internet", "bundle")),
            ServiceDef("nbn-tvbox", "Аренда ТВ-приставки", _rub(120), "", kinds=("bundle", "tv")),
            ServiceDef("nbn-mobile", "Мобильный интернет Wifire", _rub(300), "10 ГБ в месяц"),
        ),
        suspension=SuspensionRule(
            free_days=60,
            daily_fee=_rub(5),
            max_days=180,
            approval_delay=dt.timedelta(hours=2),
            description="Первые 60 дней бесплатно, далее 5 ₽ в сутки",
        ),
        topics=(
            ChatTopic("support", "Техническая поддержка"),
            ChatTopic("billing", "Финансовые вопросы"),
        ),
        faq=(
            *_COMMON_FAQ,
            FaqEntry(
                ("договор", "расторг"),
                "Расторгнуть договор можно только в офисе продаж с паспортом.",
            ),
        ),
        news=(
            (-5, "offer", "Мобильный интернет Wifire", "10 ГБ за 300 ₽ для абонентов."),
            (-12, "news", "Скорость 300 Мбит/с в Воронеже", "Новый тариф уже доступен."),
            (-40, "maintenance", "Работы на сети в Воронеже", "Ночью были перерывы до 30 минут."),
        ),
        agent_delay_minutes=(3, 10),
        session_ttl=dt.timedelta(days=7),
    )
)

_TARIFF_INDEX = {op: {t.id: t for t in cfg.tariffs} for op, cfg in OPERATORS.items()}
_SERVICE_INDEX = {op: {s.id: s for s in cfg.services} for op, cfg in OPERATORS.items()}
