"""The codebook checks and the callback-time rules (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from esl_apps.config.schedules import Schedule
from esl_apps.features.dispositions_codes import (
    categories_of,
    check_entry,
    entry_regex,
    max_entry_digits,
    merge_codes,
    missing_required,
    split_entry,
)
from esl_apps.features.dispositions_hotkeys import HotkeyNote, hotkey_codes, hotkey_variable
from esl_apps.features.dispositions_time import parse_callback_time
from tests.support.dispositions_rig import codebook

BOOK = codebook()  # the shipped one: multi mode, outcome required
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday


@pytest.mark.parametrize(
    ("digits", "codes", "problem"),
    [
        ("23*40", ("23", "40"), None),
        ("23*40*50", ("23", "40", "50"), None),
        ("23*23", ("23",), None),  # the same code twice is harmless
        ("99", None, "unknown code 99"),
        ("23*99", None, "unknown code 99"),  # one bad code rejects the entry: nothing half-stored
        ("20*21", None, "codes 20 and 21 are both outcome"),
        ("23**40", None, "empty code in the entry"),
        ("*23", None, "empty code in the entry"),
        ("", None, "empty code in the entry"),
    ],
)
def test_entry_check(digits, codes, problem):
    check = check_entry(BOOK, split_entry(digits, BOOK))
    assert check.problem == problem
    if codes is not None:
        assert check.codes == codes


def test_a_category_allowing_several_codes_takes_them():
    book = codebook()
    data = book.model_dump()
    data["categories"]["sentiment"]["multiple"] = True
    multi = type(book).model_validate(data)
    assert check_entry(multi, ("50", "51")).ok
    assert categories_of(multi, ("23", "50", "51")) == {"outcome": "23", "sentiment": ["50", "51"]}
    assert hotkey_variable(multi, "5", "50") == "esl_hotkey_sentiment_5"


def test_single_mode_takes_the_entry_as_one_code_and_leaves_room_for_the_terminator():
    single = codebook(mode="single")
    assert split_entry("23*40", single) == ("23*40",)
    assert not check_entry(single, split_entry("23*40", single)).ok
    assert entry_regex(single) == "^[0-9]+$" and max_entry_digits(single) == 3
    assert entry_regex(BOOK) == "^[0-9\\*]+$" and max_entry_digits(BOOK) > 9


def test_merge_lets_a_later_code_replace_one_of_the_same_single_category():
    assert merge_codes(BOOK, ("20", "50"), ("23",)) == ("50", "23")
    assert merge_codes(BOOK, ("20",), ("40", "20")) == ("20", "40")
    assert merge_codes(BOOK, ("99", "20"), ()) == ("20",)  # unknown codes never survive


def test_required_categories():
    assert missing_required(BOOK, ()) == ("outcome",)
    assert missing_required(BOOK, ("40", "50")) == ("outcome",)
    assert missing_required(BOOK, ("24",)) == ()


def test_hotkey_codes_read_from_the_caller_legs_variables():
    book = codebook(hotkeys={"1": "23", "2": "21", "5": "50"})
    assert hotkey_variable(book, "1", "23") == hotkey_variable(book, "2", "21") == "esl_hotkey_outcome"
    variables = {"esl_hotkey_outcome": "21", "esl_hotkey_sentiment": "50", "esl_hotkey_junk": "99",
                 "other": "23"}
    assert hotkey_codes(variables, book) == ("21", "50")
    note = HotkeyNote(codes=("21", "50"), agent="alice", ended_at_ms=5)
    assert HotkeyNote.from_json(note.to_json()) == note


@pytest.mark.parametrize(
    ("digits", "expected", "problem"),
    [
        ("90", NOW + timedelta(minutes=90), None),
        ("1", NOW + timedelta(minutes=1), None),
        ("0", None, "an offset must be at least 1 minute"),
        ("202611251430", datetime(2026, 11, 25, 14, 30, tzinfo=UTC), None),  # GMT in November
        ("202611241000", None, "in the past"),
        ("202613011000", None, "not a valid date and time"),
        ("209901011000", None, "more than 90 days ahead"),
        ("200000", None, "expected minutes (up to 5 digits) or YYYYMMDDHHMM (12 digits)"),
        ("12a", None, "not a number"),
    ],
)
def test_callback_time(digits, expected, problem):
    check = parse_callback_time(digits, NOW, tz=LONDON)
    assert check.problem == problem
    assert check.at == expected


def test_callback_time_is_local_to_the_centre_and_within_business_hours():
    office = Schedule.model_validate({"timezone": "Europe/London", "weekly": {"mon-fri": ["08:00-18:00"]}})
    summer = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    check = parse_callback_time("202607021430", summer, tz=LONDON, schedule=office)
    assert check.at == datetime(2026, 7, 2, 13, 30, tzinfo=UTC)  # BST: 14:30 local is 13:30 UTC
    assert parse_callback_time("202607041430", summer, tz=LONDON, schedule=office).problem == (
        "outside business hours"  # a Saturday
    )
    assert parse_callback_time("600", summer, tz=LONDON, schedule=office).problem == "outside business hours"
