"""The shipped example configuration, and the model helpers the rest of esl-apps relies on."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from esl_apps.config import Config, load_config
from esl_apps.config.pbx import Member, OverflowTarget
from esl_apps.config.settings import CallbackSettings, EslSettings, SecretUnavailable


@pytest.fixture(scope="module")
def example() -> Config:
    return load_config()


def test_example_validates_clean(example: Config) -> None:
    assert example.warnings == ()
    assert len(example.files) == 2 + len(example.flows)
    assert all(Path(f).is_file() for f in example.files)


def test_example_is_the_sales_and_support_centre_of_the_issue(example: Config) -> None:
    pbx = example.pbx
    assert len(pbx.agents) == 8
    assert {g: pbx.ring_groups[g].strategy for g in pbx.ring_groups} == {
        "sales": "round_robin",
        "support": "longest_idle",
        "billing": "sequential",
    }
    assert [d.flow for d in pbx.dids] == ["main", "support"]
    assert set(example.flows) >= {"main", "support"}
    assert len(pbx.schedules) == 2 and pbx.queues and pbx.voicemail.boxes and pbx.callbacks
    assert pbx.esl.password_env and pbx.esl.password_file is None  # never a literal password


def test_example_codebook_covers_the_seed_list(example: Config) -> None:
    book = example.dispositions
    assert len(book.codes) == 15
    labels = {c.label.lower() for c in book.codes}
    for seed in (
        "no answer",
        "busy",
        "abandoned",
        "callback requested",
        "voicemail left",
        "interested",
        "not interested",
        "appointment set",
        "sale closed",
        "follow-up needed",
        "do not call",
        "wrong number",
    ):
        assert seed in labels
    assert book.codes_in("intent") and book.codes_in("sentiment")
    assert book.lookup("30").action == "dnc"
    assert book.lookup("15").callback_time_required
    assert book.lookup("99") is None
    assert book.required_categories == ("outcome",)


def test_dial_strings_fill_in_the_domain_and_route_sip_uris(example: Config) -> None:
    pbx = example.pbx
    assert pbx.dial_strings(pbx.agents_by_id["alice"]) == ("user/1001@pbx.example.com",)
    assert pbx.dial_strings(pbx.agents_by_id["heidi"]) == ("sofia/internal/sip:1008@pbx.example.com",)
    assert pbx.dial_strings(pbx.agents_by_id["carol"])[1] == "sofia/gateway/mobile/+447700900003"


def test_members_of_adds_agents_naming_the_group_after_its_list(example: Config) -> None:
    pbx = example.pbx
    assert [m.agent for m in pbx.members_of("support")] == ["dave", "erin", "frank", "heidi"]
    assert [m.agent for m in pbx.members_of("billing")] == ["grace", "heidi"]  # listed once only
    sales = pbx.ring_groups["sales"]
    carol, alice = pbx.members_of("sales")[2], pbx.members_of("sales")[0]
    assert (sales.member_timeout(carol), sales.member_timeout(alice)) == (25, 20)


def test_overflow_for_a_condition_falls_back_to_the_group_voicemail(example: Config) -> None:
    sales = example.pbx.ring_groups["sales"]
    assert sales.overflow_for("no_answer") == OverflowTarget(group="billing")
    assert sales.overflow_for("closed") == OverflowTarget(voicemail="sales")
    assert sales.overflow_for("max_wait") == OverflowTarget(voicemail="sales")
    assert example.pbx.ring_groups["support"].overflow_for("queue_full").kind == "callback"


def test_dialplan_socket_defaults_to_the_app_listen_address() -> None:
    from esl_apps.config.pbx import PbxConfig

    pbx = PbxConfig.model_validate(
        {"domain": "x.example", "esl": {"password_env": "X", "app_listen": "0.0.0.0:9090"}}
    )
    assert (pbx.dialplan.app_host, pbx.dialplan.app_port) == ("127.0.0.1", 9090)
    assert (pbx.esl.listen_host, pbx.esl.listen_port) == ("0.0.0.0", 9090)


def test_schedule_opening_hours_are_local_time(example: Config) -> None:
    office = example.pbx.schedules["office"]
    # 2026-07-06 is a Monday; London is on BST (UTC+1): 07:30 UTC is 08:30 local, open.
    assert office.is_open(datetime(2026, 7, 6, 7, 30, tzinfo=UTC))
    assert not office.is_open(datetime(2026, 7, 6, 6, 59, tzinfo=UTC))
    assert office.is_open(datetime(2026, 7, 11, 11, 0, tzinfo=UTC))  # Saturday morning
    assert not office.is_open(datetime(2026, 7, 12, 11, 0, tzinfo=UTC))  # Sunday
    assert not office.is_open(datetime(2026, 12, 25, 12, 0, tzinfo=UTC))  # holiday (a Friday)
    assert office.is_open(datetime(2026, 12, 24, 10, 0, tzinfo=UTC))  # Christmas Eve morning
    assert not office.is_open(datetime(2026, 12, 24, 13, 0, tzinfo=UTC))
    assert office.hours_on(date(2026, 12, 24)) == ((480, 720),)
    weekend = example.pbx.schedules["support_hours"]
    assert weekend.is_open(datetime(2026, 7, 12, 12, 0, tzinfo=UTC))  # "sat,sun" key


def test_esl_password_is_read_at_run_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from_env = EslSettings(password_env="TEST_ESL_PW")
    monkeypatch.delenv("TEST_ESL_PW", raising=False)
    with pytest.raises(SecretUnavailable, match="TEST_ESL_PW is not set"):
        from_env.password()
    monkeypatch.setenv("TEST_ESL_PW", "s3cret")
    assert from_env.password() == "s3cret"
    secret = tmp_path / "esl.password"
    from_file = EslSettings(password_file=str(secret))
    with pytest.raises(SecretUnavailable, match="cannot read password_file"):
        from_file.password()
    secret.write_text("t0p\n")
    assert from_file.password() == "t0p"
    assert "s3cret" not in repr(from_env) and "t0p" not in repr(from_file)


def test_callback_backoff_repeats_the_last_delay() -> None:
    callbacks = CallbackSettings(caller_id="+442071234567", retry_backoff_seconds=(60, 120))
    assert [callbacks.backoff_for(n) for n in (1, 2, 3, 4)] == [60, 120, 120, 120]


def test_models_are_frozen(example: Config) -> None:
    with pytest.raises(ValueError):
        example.pbx.ring_groups["sales"].ring_timeout = 5  # type: ignore[misc]
    assert Member.model_validate("alice") == Member(agent="alice")
