"""The :class:`Backend`: the domain plus the simulation state (faults, sim helpers).

One Backend per app; tests reach it as ``app.state.backend``. Dialects receive it in
``router(backend)`` and call its domain methods (see DIALECTS.md).
"""

from __future__ import annotations

import datetime as dt

from .domain import BillingClock, Domain, populate_demo
from .domain.errors import NotFound
from .domain.models import OutboxMessage
from .faults import FaultSet
from .inflight import InFlight

__all__ = ["Backend"]


class Backend(Domain):
    def __init__(
        self,
        *,
        seed: int = 1,
        clock_speed: float = 1.0,
        start: dt.datetime | None = None,
        demo: bool = True,
        sim: bool = False,
        not_after_real: bool = False,
    ) -> None:
        super().__init__(BillingClock(start, clock_speed, not_after_real=not_after_real), seed)
        self.faults = FaultSet(seed)
        self.in_flight = InFlight()  # requests being answered, per operator
        self.sim = sim
        self._made_with = (seed, clock_speed, start, demo, not_after_real)
        if demo:
            populate_demo(self)

    def reset(self) -> Backend:
        """A fresh world in place, as this backend was first made (same seed, clock speed, demo
        data; a clock started anew unless a start was given); for tests.

        The app's routers, the sim API and the fault middleware hold this very object (building
        an app costs several times more than building a backend), so the state is rebuilt on
        it: every attribute set since (a scripted ``rng``, caches) goes, the fault set and the
        in-flight counts the middlewares hold are kept and emptied, and ``sim`` stays as it was.
        """
        faults, sim, in_flight = self.faults, self.sim, self.in_flight
        seed, clock_speed, start, demo, not_after_real = self._made_with
        vars(self).clear()
        Backend.__init__(
            self,
            seed=seed,
            clock_speed=clock_speed,
            start=start,
            demo=demo,
            sim=sim,
            not_after_real=not_after_real,
        )
        faults.clear()
        self.faults = faults
        in_flight.reset()  # the middleware holds it too
        self.in_flight = in_flight
        return self

    # -- simulation helpers (the sim API calls these too) -----------------------------------
    def advance(
        self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
    ) -> dt.datetime:
        """Move the billing clock forward."""
        return self.clock.advance(
            dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        )

    def outbox_for(
        self,
        operator: str | None = None,
        destination: str | None = None,
        channel: str | None = None,
        purpose: str | None = None,
    ) -> list[OutboxMessage]:
        """Delivered SMS and e-mails, oldest first, filtered."""
        dest = destination.lower() if destination else None
        return [
            m
            for m in self.outbox
            if (operator is None or m.operator == operator)
            and (dest is None or m.destination.lower() == dest)
            and (channel is None or m.channel == channel)
            and (purpose is None or m.purpose == purpose)
        ]

    def last_code(
        self,
        operator: str | None = None,
        destination: str | None = None,
        purpose: str | None = None,
    ) -> str:
        """The newest one-time code (or temporary password) sent, filtered."""
        for m in reversed(self.outbox_for(operator, destination, purpose=purpose)):
            if m.code:
                return m.code
        raise NotFound("Код не отправлялся")

    def captcha_answer(self, operator: str | None = None, captcha_id: str | None = None) -> str:
        """The answer of a captcha by id, or of the newest one issued for ``operator``."""
        if captcha_id:
            return self.captcha(captcha_id).answer
        if operator:
            captcha = self.latest_captcha.get(operator)
            if captcha is None:
                raise NotFound("Капча не выдавалась")
            return captcha.answer
        if not self.captchas:
            raise NotFound("Капча не выдавалась")
        return next(reversed(self.captchas.values())).answer
