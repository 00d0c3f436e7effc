"""The do-not-call list: one entry per line whatever the spelling; stream replay in order."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from esl_apps.features.dnc import DncList, normalise_number
from esl_apps.store.records import RecordLog


@pytest.mark.parametrize(
    ("given", "country", "expected"),
    [
        ("+44 20 7123 4567", None, "+442071234567"),
        ("0044-20-7123-4567", None, "+442071234567"),
        ("+44 (0)20 7123.4567", None, "+4402071234567"),  # the (0) is kept: it is a digit
        ("020 7123 4567", "44", "+442071234567"),
        ("020 7123 4567", None, "02071234567"),
        ("anonymous", None, "anonymous"),
    ],
)
def test_normalise(given, country, expected):
    assert normalise_number(given, country) == expected


def test_add_check_remove(redis_url):
    async def scenario():
        client = aioredis.from_url(redis_url)
        dnc = DncList(client, country_code="44")
        try:
            added = [await dnc.add("+44 20 7123 4567"), await dnc.add("020 7123 4567")]
            blocked = await dnc.is_blocked("0044 20 7123 4567")
            some = await dnc.blocked_of(["02071234567", "02071234568"])
            removed = await dnc.remove("+442071234567")
            return added, blocked, some, removed, await dnc.is_blocked("02071234567"), await dnc.count()
        finally:
            await client.aclose()

    added, blocked, some, removed, after, count = asyncio.run(scenario())
    assert added == [True, False]  # the second spelling is the same line
    assert blocked and some == {"02071234567"} and removed and not after and count == 0


def test_sync_applies_the_stream_in_order_and_only_once(redis_url, tmp_path):
    async def scenario():
        client = aioredis.from_url(redis_url)
        log = RecordLog(client, tmp_path)
        dnc = DncList(client)
        try:
            for action, number in [("add", "+441"), ("add", "+442"), ("remove", "+441"), ("add", "+443")]:
                await log.append("dnc", {"action": action, "number": number + "000000"})
            first = await dnc.sync_from(log.stream_key("dnc"))
            await dnc.add("+441000000")  # listed again by hand: an old stream entry must not undo it
            second = await dnc.sync_from(log.stream_key("dnc"))
            return first, second, await dnc.numbers()
        finally:
            await log.close()
            await client.aclose()

    first, second, numbers = asyncio.run(scenario())
    assert (first, second) == (4, 0)
    assert numbers == ["+441000000", "+442000000", "+443000000"]
