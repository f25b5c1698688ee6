"""The provider contract: what an operator plugin implements.

A provider is a class. The core creates one instance per process with a
:class:`ProviderContext` (a shared ``httpx.AsyncClient``, the operator's base URL, the flow
registry, the browser pool) and calls its ``async`` methods. ``balance`` is required; every
other capability is optional and *present exactly when the method is overridden*: the registry
reads :meth:`Provider.capabilities`, the UI shows only those, and calling a missing one raises
:class:`NotSupported`.

Methods take the operator :class:`Session` and ``account``: the id of a :class:`Subaccount`
(one login may hold several numbers or accounts; each becomes its own linked account).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .errors import NotSupported
from .flows import Challenge, ChallengeAnswer, FlowRegistry, Session
from .login import Credentials, LoginScheme
from .models import (
    AutopaySettings,
    Balance,
    ChatMessage,
    ChatTopic,
    NewsItem,
    OperationResult,
    Payment,
    PollResult,
    Profile,
    Report,
    ReportFormat,
    Service,
    ServiceChangeResult,
    Subaccount,
    Suspension,
    SuspensionQuote,
    TariffCatalogue,
    TariffChangeResult,
    TopUpResult,
    TrafficStats,
    TrustedPayment,
    TrustedPaymentResult,
    Usage,
)
from .recovery import RecoveryDone, RecoveryRequest, RecoveryScheme

if TYPE_CHECKING:
    import httpx

__all__ = [
    "MONEY_CAPABILITIES",
    "BrowserPool",
    "Capability",
    "Host",
    "OperatorLimits",
    "Provider",
    "ProviderContext",
    "WireProvenance",
]


class BrowserPool(Protocol):
    """One shared browser per process; each login gets a fresh context (see aggregator.browser)."""

    async def new_context(self) -> Any: ...


@dataclass(frozen=True)
class Host:
    """One named host of an operator that serves its cabinet from several hosts.

    Rostelecom logs in on its passport (``b2c.passport.rt.ru``) and serves the cabinet on
    ``lk.rt.ru``: a provider declares both in :attr:`Provider.hosts`. ``real_url`` is where the
    operator serves it; ``path`` is where it lives under the provider's base URL when one server
    answers for all hosts (the reference provider), which is the default. The settings
    (``AGGREGATOR_PROVIDER_URLS``) can point each host elsewhere, e.g. at the real operator.
    """

    name: str
    real_url: str
    path: str
    description: str = ""


@dataclass(frozen=True)
class OperatorLimits:
    """What one operator tolerates from us, whatever the number of our processes.

    A provider declares it in :attr:`Provider.limits`; the settings can only lower it
    (``per_operator_concurrency``, ``per_operator_rate``). The aggregator enforces it for the
    whole cluster: every ``aggregator worker`` on one PostgreSQL (and the dashboard) shares
    ``concurrency`` and the ``requests_per_s`` budget, so adding workers never makes an operator
    see more than this.

    - ``concurrency``: requests in flight at once to this operator (the whole cluster);
    - ``requests_per_s``: the request-rate budget (None: only the concurrency limit);
      ``burst``: how many requests may go out back to back after a quiet spell (default: one
      second's worth);
    - ``connect_timeout_s``, ``read_timeout_s``: the timeouts of the operator's own HTTP
      client (the smaller of these and the ``http_timeout_s`` setting applies); the client's
      connection pool holds ``concurrency`` connections;
    - ``cookies``: keep the cookies the operator sets in the client's jar. Off by default: the
      jar refuses everything, so no session can leak from one account to the next through it
      (the jar is shared by every account of the operator); a plugin sends the cookies of the
      account's stored :class:`~aggregator.core.flows.Session` explicitly instead.
    """

    concurrency: int = 8
    requests_per_s: float | None = None
    burst: int | None = None
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    cookies: bool = False

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("OperatorLimits.concurrency must be at least 1")
        if self.requests_per_s is not None and self.requests_per_s <= 0:
            raise ValueError("OperatorLimits.requests_per_s must be positive (or None)")
        if self.burst is not None and self.burst < 1:
            raise ValueError("OperatorLimits.burst must be at least 1")
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise ValueError("OperatorLimits timeouts must be positive")

    @property
    def bucket(self) -> float:
        """The most requests the rate budget lets out back to back."""
        if self.burst is not None:
            return float(self.burst)
        return max(1.0, self.requests_per_s or 1.0)

    def lowered(self, concurrency: int | None, requests_per_s: float | None) -> OperatorLimits:
        """These limits, lowered (never raised) by the settings' values (None: as declared)."""
        rate = self.requests_per_s
        if requests_per_s is not None:
            rate = requests_per_s if rate is None else min(rate, requests_per_s)
        return OperatorLimits(
            concurrency=min(self.concurrency, concurrency or self.concurrency),
            requests_per_s=rate,
            burst=self.burst,
            connect_timeout_s=self.connect_timeout_s,
            read_timeout_s=self.read_timeout_s,
            cookies=self.cookies,
        )


@dataclass
class ProviderContext:
    """What the host gives a provider instance.

    ``hosts`` maps a :class:`Host` name to the URL the settings chose for it; a host missing
    here is served under ``base_url`` at its ``path`` (see :meth:`Provider.host_url`).
    """

    http: httpx.AsyncClient
    base_url: str
    flows: FlowRegistry = field(default_factory=FlowRegistry)
    browser: BrowserPool | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    hosts: dict[str, str] = field(default_factory=dict)


class Capability(StrEnum):
    """Each capability is one method of :class:`Provider`; present when it is overridden."""

    BALANCE = "balance"
    SUBACCOUNTS = "subaccounts"
    TARIFFS = "tariffs"
    TARIFF_CHANGE = "change_tariff"
    SERVICES = "services"
    SERVICE_TOGGLE = "set_service"
    SUSPENSION = "suspension"
    SUSPEND = "suspend"
    CHAT = "chat_history"
    PAYMENTS = "payments"
    TOP_UP = "top_up"
    TRUSTED_PAYMENT = "trusted_payment"
    TAKE_TRUSTED_PAYMENT = "take_trusted_payment"
    AUTOPAY = "autopay"
    REPORTS = "report"
    USAGE = "usage"
    NEWS = "news"
    PROFILE = "profile"
    RECOVERY = "start_recovery"  # password recovery ("Забыли пароль?")
    TRAFFIC = "traffic"  # traffic downloaded and uploaded over a chosen period


class WireProvenance(StrEnum):
    """How a provider knows the operator's wire format for one capability.

    ``proven``: an independent public client of the operator (AnyBalance, mbplugin, ...) makes
    the same requests and reads the same replies; ``seed``: only the operator's own description
    of the feature is known, the wire is shaped after it; ``assumed``: our guess. An operation
    that moves money on an assumed format asks the person to confirm once more.
    """

    PROVEN = "proven"
    SEED = "seed"
    ASSUMED = "assumed"


#: Operations that move money: on an assumed wire format they need one more confirmation.
MONEY_CAPABILITIES: frozenset[Capability] = frozenset(
    {
        Capability.TOP_UP,
        Capability.TAKE_TRUSTED_PAYMENT,
        Capability.TARIFF_CHANGE,
        Capability.SERVICE_TOGGLE,
        Capability.SUSPEND,
    }
)

# Methods that come with a capability; a provider overriding the first must override these.
_COMPANIONS: dict[Capability, tuple[str, ...]] = {
    Capability.SUSPEND: ("quote_suspension", "resume"),
    Capability.CHAT: ("chat_topics", "send_chat_message"),
    Capability.AUTOPAY: ("set_autopay",),
    Capability.RECOVERY: ("continue_recovery",),
    Capability.TAKE_TRUSTED_PAYMENT: ("trusted_payment",),
}


class Provider:
    """Base class of every operator plugin's provider. See the module docstring."""

    id: ClassVar[str]
    name: ClassVar[str]  # as Russians call it: "Билайн"
    name_en: ClassVar[str]  # "Beeline"
    default_base_url: ClassVar[str]
    login_schemes: ClassVar[tuple[LoginScheme, ...]]
    # Ways to recover a forgotten password (with start_recovery / continue_recovery).
    recovery_schemes: ClassVar[tuple[RecoveryScheme, ...]] = ()
    # The operator's hosts when it has more than one (passport and cabinet); see Host.
    hosts: ClassVar[tuple[Host, ...]] = ()
    # Polling more often than this gets the account blocked or rate limited.
    min_poll_interval: ClassVar[dt.timedelta] = dt.timedelta(minutes=5)
    # What the operator tolerates from the whole cluster (requests at once, rate, timeouts,
    # cookie jar); see OperatorLimits. The settings can lower it.
    limits: ClassVar[OperatorLimits] = OperatorLimits()
    # How the wire format of each capability (and of "login") is known: "proven", "seed" or
    # "assumed" (WireProvenance); what is not declared is assumed. Checked at class creation.
    provenance: ClassVar[Mapping[str, str]] = {}

    def __init__(self, context: ProviderContext) -> None:
        self.context = context

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.limits, OperatorLimits):
            raise TypeError(f"{cls.__name__}.limits must be an OperatorLimits")
        known = {"login", *(c.value for c in Capability)}
        for key, value in cls.provenance.items():
            if str(key) not in known:
                raise TypeError(f"{cls.__name__}.provenance: {key!r} is not a capability")
            WireProvenance(value)  # ValueError for anything but proven, seed, assumed
        for capability, companions in _COMPANIONS.items():
            if cls._overrides(capability.value):
                missing = [m for m in companions if not cls._overrides(m)]
                if missing:
                    raise TypeError(
                        f"{cls.__name__} implements {capability.value} but not {missing}"
                    )

    @classmethod
    def _overrides(cls, method: str) -> bool:
        return getattr(cls, method, None) is not getattr(Provider, method, None)

    @classmethod
    def capabilities(cls) -> frozenset[Capability]:
        """The capabilities this provider has: those whose method it overrides."""
        return frozenset(c for c in Capability if cls._overrides(c.value))

    @classmethod
    def has(cls, capability: Capability | str) -> bool:
        return Capability(capability) in cls.capabilities()

    @classmethod
    def provenance_of(cls, capability: Capability | str) -> WireProvenance:
        """How the wire format of ``capability`` (or ``"login"``) is known; assumed when the
        provider does not say."""
        key = capability.value if isinstance(capability, Capability) else str(capability)
        return WireProvenance(cls.provenance.get(key, WireProvenance.ASSUMED))

    @classmethod
    def provenance_map(cls) -> dict[str, WireProvenance]:
        """Provenance of the login and of every capability the provider has."""
        names = ["login", *sorted(c.value for c in cls.capabilities())]
        return {name: cls.provenance_of(name) for name in names}

    @classmethod
    def scheme(cls, scheme_id: str) -> LoginScheme:
        for scheme in cls.login_schemes:
            if scheme.id == scheme_id:
                return scheme
        raise ValueError(f"{cls.id} has no login scheme {scheme_id!r}")

    @classmethod
    def host(cls, name: str) -> Host:
        for host in cls.hosts:
            if host.name == name:
                return host
        raise ValueError(f"{cls.id} has no host {name!r}")

    def host_url(self, name: str) -> str:
        """The URL of the named host: as the settings chose, else under the base URL."""
        host = self.host(name)
        chosen = self.context.hosts.get(name)
        if chosen:
            return chosen.rstrip("/")
        return f"{self.context.base_url.rstrip('/')}/{host.path.strip('/')}".rstrip("/")

    def _missing(self, capability: Capability) -> NotSupported:
        return NotSupported(f"{self.id} does not support {capability.value}")

    # -- login ---------------------------------------------------------------------------
    async def start_login(self, credentials: Credentials) -> Session | Challenge:
        """Log in with validated credentials; return a session or the first challenge."""
        raise NotImplementedError

    async def continue_login(
        self, challenge: Challenge, answer: ChallengeAnswer
    ) -> Session | Challenge:
        """Answer a login challenge; return a session or the next challenge."""
        raise NotSupported(f"{self.id} has no login challenges")

    async def subaccounts(self, session: Session) -> list[Subaccount]:
        """Every number or account under this login; each becomes its own linked account."""
        raise self._missing(Capability.SUBACCOUNTS)

    async def logout(self, session: Session) -> None:
        """End the operator session, when the operator offers it."""
        return None

    # -- password recovery -----------------------------------------------------------------
    async def start_recovery(self, request: RecoveryRequest) -> Challenge | RecoveryDone:
        """Begin recovering a forgotten password; the first challenge or the end."""
        raise self._missing(Capability.RECOVERY)

    async def continue_recovery(
        self, challenge: Challenge, answer: ChallengeAnswer
    ) -> Challenge | RecoveryDone:
        """Answer a recovery challenge (a NEW_PASSWORD answer was checked against the
        challenge's policy already); the next challenge or the end."""
        raise self._missing(Capability.RECOVERY)

    @classmethod
    def recovery_scheme(cls, scheme_id: str | None = None) -> RecoveryScheme:
        for scheme in cls.recovery_schemes:
            if scheme_id in (None, "", scheme.id):
                return scheme
        raise ValueError(f"{cls.id} has no password recovery {scheme_id or ''}".rstrip())

    # -- polling -------------------------------------------------------------------------
    async def balance(self, session: Session, account: str) -> Balance:
        """The current balance (required)."""
        raise NotImplementedError

    async def poll(self, session: Session, account: str) -> PollResult:
        """One scheduled poll: the balance and whatever else is cheap. Default: balance only."""
        return PollResult(balance=await self.balance(session, account))

    def refreshed_session(self, session: Session) -> Session | None:
        """A session whose data changed during the last calls (fresh cookies), or None."""
        return None

    # -- operations confirmed by a code ----------------------------------------------------
    async def confirm(
        self, session: Session, challenge: Challenge, answer: ChallengeAnswer
    ) -> OperationResult | Challenge:
        """Finish an operation that returned a challenge (a one-time code)."""
        raise NotSupported(f"{self.id} does not confirm operations")

    async def resend_code(self, challenge: Challenge, session: Session | None = None) -> Challenge:
        """Ask the operator for a new one-time code for a CODE challenge.

        ``session`` is given for an operation's confirmation, None for a login step. Returns the
        challenge to answer now (usually the same step with a new ``sent_at``; the operator may
        demand a captcha first). A plugin that implements it sets ``resend_after_s`` on its
        code challenges; raises ``OperationRejected`` (too early) or ``NotSupported``.
        """
        raise NotSupported(f"{self.id} cannot send a code again")

    # -- optional capabilities -------------------------------------------------------------
    async def tariffs(self, session: Session, account: str) -> TariffCatalogue:
        raise self._missing(Capability.TARIFFS)

    async def change_tariff(
        self, session: Session, account: str, tariff_id: str
    ) -> TariffChangeResult | Challenge:
        raise self._missing(Capability.TARIFF_CHANGE)

    async def services(self, session: Session, account: str) -> list[Service]:
        raise self._missing(Capability.SERVICES)

    async def set_service(
        self, session: Session, account: str, service_id: str, enabled: bool
    ) -> ServiceChangeResult | Challenge:
        raise self._missing(Capability.SERVICE_TOGGLE)

    async def suspension(self, session: Session, account: str) -> Suspension:
        raise self._missing(Capability.SUSPENSION)

    async def quote_suspension(
        self, session: Session, account: str, start: dt.date, end: dt.date
    ) -> SuspensionQuote:
        raise self._missing(Capability.SUSPEND)

    async def suspend(
        self, session: Session, account: str, start: dt.date, end: dt.date
    ) -> Suspension | Challenge:
        raise self._missing(Capability.SUSPEND)

    async def resume(self, session: Session, account: str) -> Suspension:
        raise self._missing(Capability.SUSPEND)

    async def chat_topics(self, session: Session, account: str) -> list[ChatTopic]:
        raise self._missing(Capability.CHAT)

    async def chat_history(
        self, session: Session, account: str, since: dt.datetime | None = None
    ) -> list[ChatMessage]:
        raise self._missing(Capability.CHAT)

    async def send_chat_message(
        self, session: Session, account: str, topic_id: str, text: str
    ) -> list[ChatMessage]:
        """Send a message; return what came back at once (a bot answer), possibly nothing."""
        raise self._missing(Capability.CHAT)

    async def payments(
        self, session: Session, account: str, since: dt.date, until: dt.date
    ) -> list[Payment]:
        raise self._missing(Capability.PAYMENTS)

    async def top_up(
        self, session: Session, account: str, amount: Decimal
    ) -> TopUpResult | Challenge:
        raise self._missing(Capability.TOP_UP)

    async def trusted_payment(self, session: Session, account: str) -> TrustedPayment:
        """The trusted (promised) payment: the operator's offer and what is owed now."""
        raise self._missing(Capability.TRUSTED_PAYMENT)

    async def take_trusted_payment(
        self, session: Session, account: str, amount: Decimal
    ) -> TrustedPaymentResult | Challenge:
        """Take a trusted payment of ``amount``: credit now, to be paid back by its due date.

        Separate from :meth:`top_up` (no money comes in). Raises ``OperationRejected`` when the
        operator refuses (one not paid back yet, an amount outside the offer)."""
        raise self._missing(Capability.TAKE_TRUSTED_PAYMENT)

    async def autopay(self, session: Session, account: str) -> AutopaySettings:
        raise self._missing(Capability.AUTOPAY)

    async def set_autopay(
        self, session: Session, account: str, settings: AutopaySettings
    ) -> AutopaySettings | Challenge:
        raise self._missing(Capability.AUTOPAY)

    async def report(
        self,
        session: Session,
        account: str,
        period_start: dt.date,
        period_end: dt.date,
        fmt: ReportFormat,
    ) -> Report:
        raise self._missing(Capability.REPORTS)

    async def usage(self, session: Session, account: str) -> Usage:
        raise self._missing(Capability.USAGE)

    async def traffic(
        self, session: Session, account: str, start: dt.date, end: dt.date
    ) -> TrafficStats:
        """Traffic from ``start`` to ``end`` (inclusive) as the operator counts it; split per
        month on the wire when the operator shows one month at a time."""
        raise self._missing(Capability.TRAFFIC)

    async def news(self, session: Session, account: str) -> list[NewsItem]:
        raise self._missing(Capability.NEWS)

    async def profile(self, session: Session, account: str) -> Profile:
        raise self._missing(Capability.PROFILE)
