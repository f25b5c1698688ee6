"""Alert rules: defaults, per-account overrides, hysteresis, and what each poll decides."""

from __future__ import annotations

import datetime as dt
import itertools

from aggregator.alerts.rules import (
    DEFAULTS,
    AccountFacts,
    AlertKind,
    OpenEpisode,
    RuleRow,
    evaluate,
    resolve_rules,
)

TODAY = dt.date(2024, 5, 1)
NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def facts(amount: int | None = None, status: str = "ok", **kw: object) -> AccountFacts:
    return AccountFacts(account_id=1, status=status, today=TODAY, amount_minor=amount, **kw)  # type: ignore[arg-type]


def test_defaults_apply_without_rows() -> None:
    rules = resolve_rules([], 1)
    assert rules == dict(DEFAULTS)


def test_account_rule_overrides_household_default() -> None:
    rows = [
        RuleRow(
            1,
            10,
            None,
            "low_balance",
            threshold_minor=200_00,
            margin_minor=50_00,
            recipients=("mama@example.ru", "papa@example.ru"),
            lang="en",
        ),
        RuleRow(2, 10, 7, "low_balance", threshold_minor=30_00),
        RuleRow(3, 10, None, "runs_out", enabled=False),
    ]
    mine = resolve_rules(rows, 7)
    other = resolve_rules(rows, 8)
    assert mine[AlertKind.LOW_BALANCE].threshold_minor == 30_00
    # What the account leaves empty is the household's ("empty: the household's threshold"),
    # and so are the household's recipients and language.
    assert mine[AlertKind.LOW_BALANCE].margin_minor == 50_00
    assert mine[AlertKind.LOW_BALANCE].recipients == ("mama@example.ru", "papa@example.ru")
    assert mine[AlertKind.LOW_BALANCE].lang == "en"
    assert other[AlertKind.LOW_BALANCE].threshold_minor == 200_00
    assert not other[AlertKind.RUNS_OUT].enabled
    assert mine[AlertKind.NEEDS_LOGIN] == DEFAULTS[AlertKind.NEEDS_LOGIN]


class Episodes:
    """Applies decisions like the database would."""

    def __init__(self) -> None:
        self.open: dict[str, OpenEpisode] = {}
        self.opened: list[str] = []
        self._ids = itertools.count(1)

    def step(self, f: AccountFacts, rules: dict[AlertKind, object] | None = None) -> None:
        decision = evaluate(f, rules or resolve_rules([], 1), self.open)  # type: ignore[arg-type]
        for episode_id in decision.closes:
            self.open = {k: e for k, e in self.open.items() if e.id != episode_id}
        for kind, details in decision.opens:
            assert kind.value not in self.open
            self.open[kind.value] = OpenEpisode(next(self._ids), kind.value, NOW, details=details)
            self.opened.append(kind.value)


def test_low_balance_opens_once_and_rearms_above_threshold_plus_margin() -> None:
    rows = [RuleRow(1, 1, None, "low_balance", threshold_minor=100_00, margin_minor=20_00)]
    rules = resolve_rules(rows, 1)
    e = Episodes()
    for amount in (150_00, 99_00, 80_00, 101_00, 95_00, 119_00, 100_00, 99_99):
        e.step(facts(amount), rules)  # wobbling inside the band: nothing new
    assert e.opened == ["low_balance"]
    e.step(facts(120_01), rules)  # above threshold + margin: re-armed
    assert "low_balance" not in e.open
    e.step(facts(110_00), rules)
    assert e.opened == ["low_balance"]
    e.step(facts(90_00), rules)  # a second crossing: a second episode
    assert e.opened == ["low_balance", "low_balance"]


def test_never_below_threshold_never_alerts() -> None:
    e = Episodes()
    for amount in (100_00, 100_01, 119_99, 100_00):
        e.step(facts(amount))
    assert e.opened == []


def test_runs_out_with_its_own_hysteresis() -> None:
    e = Episodes()
    e.step(facts(500_00, days_left=10))
    e.step(facts(200_00, days_left=3))
    assert e.opened == ["runs_out"]
    e.step(facts(200_00, days_left=4))
    e.step(facts(200_00, days_left=5))
    assert "runs_out" in e.open  # 3 + 2 = 5 is still inside the band
    e.step(facts(500_00, days_left=6))
    assert "runs_out" not in e.open


def test_needs_login_follows_the_status() -> None:
    e = Episodes()
    e.step(facts(None, status="needs_login"))
    e.step(facts(None, status="needs_login"))
    assert e.opened == ["needs_login"]
    e.step(facts(500_00, status="ok"))
    assert "needs_login" not in e.open


def test_a_failed_poll_leaves_money_episodes_alone() -> None:
    e = Episodes()
    e.step(facts(10_00))
    assert "low_balance" in e.open
    e.step(facts(None, status="stale"))
    assert "low_balance" in e.open


def test_suspension_ends_soon() -> None:
    e = Episodes()
    e.step(facts(500_00, suspension_end=TODAY + dt.timedelta(days=10)))
    assert e.opened == []
    e.step(facts(500_00, suspension_end=TODAY + dt.timedelta(days=3)))
    assert e.opened == ["suspension_ends"]
    e.step(facts(500_00, suspension_end=TODAY + dt.timedelta(days=2)))
    assert e.opened == ["suspension_ends"]
    e.step(facts(500_00, suspension_end=None))
    assert e.open == {}


def test_disabled_rule_closes_its_episode() -> None:
    e = Episodes()
    e.step(facts(10_00))
    rules = resolve_rules([RuleRow(1, 1, 1, "low_balance", enabled=False)], 1)
    e.step(facts(10_00), rules)
    assert "low_balance" not in e.open


# -- remainders ---------------------------------------------------------------------------
def _left(rest: int, size: int | None = 10 * 2**30, unlimited: bool = False) -> object:
    from aggregator.alerts.remainders import UnitLeft

    return {"bytes": UnitLeft("bytes", rest, size, unlimited)}


def _data_rules(threshold: int | None, account_rule: bool = True) -> dict[AlertKind, object]:
    rows = [RuleRow(7, 10, 1 if account_rule else None, "low_data", threshold_units=threshold)]
    return resolve_rules(rows, 1)  # type: ignore[return-value]


def test_low_data_is_off_without_a_threshold() -> None:
    assert DEFAULTS[AlertKind.LOW_DATA].enabled is False
    decision = evaluate(facts(500_00, left=_left(0)), resolve_rules([], 1), {})
    assert not any(kind is AlertKind.LOW_DATA for kind, _ in decision.opens)


def test_low_data_opens_below_the_threshold_once_and_closes_above_it() -> None:
    gib = 2**30
    rules = _data_rules(gib)
    decision = evaluate(facts(500_00, left=_left(gib - 1)), rules, {})  # type: ignore[arg-type]
    (opened,) = [d for kind, d in decision.opens if kind is AlertKind.LOW_DATA]
    assert opened == {"unit": "bytes", "rest": gib - 1, "threshold": gib, "size": 10 * gib}
    episode = {"low_data": OpenEpisode(5, "low_data", NOW)}
    again = evaluate(facts(500_00, left=_left(10)), rules, episode)  # type: ignore[arg-type]
    assert not again.opens and not again.closes
    # A poll that did not read the remainders decides nothing about them.
    silent = evaluate(facts(500_00), rules, episode)  # type: ignore[arg-type]
    assert not silent.closes
    renewed = evaluate(facts(500_00, left=_left(5 * gib)), rules, episode)  # type: ignore[arg-type]
    assert renewed.closes == [5]


def test_unlimited_traffic_never_runs_low() -> None:
    rules = _data_rules(2**30)
    decision = evaluate(facts(500_00, left=_left(0, None, True)), rules, {})  # type: ignore[arg-type]
    assert not decision.opens


def test_an_account_threshold_over_the_household_one() -> None:
    rows = [
        RuleRow(1, 10, None, "low_data", threshold_units=2**30),
        RuleRow(2, 10, 1, "low_data", threshold_units=None, recipients=("a@example.ru",)),
    ]
    rule = resolve_rules(rows, 1)[AlertKind.LOW_DATA]
    assert rule.enabled and rule.threshold_units == 2**30
