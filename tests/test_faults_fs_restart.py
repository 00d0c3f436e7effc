"""FreeSWITCH (the emulator's inbound listener) restarted: the inbound client, configured as the
callback dialer configures it, is connected again within 2 s of FreeSWITCH being back, with its
subscriptions replayed: an event published after the restart reaches it.

FreeSWITCH is down for 6.5 s, about what a real restart takes. That is long enough for an
exponential backoff with the client's default 10 s cap to be sleeping for 6.4 s when FreeSWITCH
comes back (retries at 0.1, 0.3, 0.7, 1.5, 3.1, 6.3 then 12.7 s): the 2 s promise rests on the
dialer's 1 s cap, which is what this test holds it to.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from esl_apps.commands.callbacks import ESL_RECONNECT_MAX_S
from esl_apps.esl.inbound import InboundClient
from esl_apps.esl.protocol import Event
from esl_apps.sim import CallerScript, Emulator

PASSWORD = "restart-test-not-cluecon"
DOWN_S = 6.5


async def _event_for(
    events: list[Event], arrived: asyncio.Event, name: str, uuid: str, timeout: float
) -> Event:
    deadline = time.monotonic() + timeout
    while True:
        for event in events:
            if event.name == name and event.headers.get("Unique-ID") == uuid:
                return event
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {name} for {uuid} within {timeout}s")
        arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(arrived.wait(), remaining)


@pytest.mark.slow
def test_inbound_client_reconnects_within_2s_of_a_freeswitch_restart_and_resubscribes():
    async def main() -> tuple[float, int, list[str]]:
        emu = Emulator(time_scale=0.01, inbound_password=PASSWORD)
        await emu.start()
        port = emu.inbound_port
        assert port
        emu.add_extension("9000", [("answer", ""), ("playback", "ivr/ivr-welcome.wav"), ("hangup", "")])
        client = InboundClient("127.0.0.1", port, PASSWORD, backoff_max_s=ESL_RECONNECT_MAX_S)
        events: list[Event] = []
        arrived = asyncio.Event()

        def on_event(event: Event) -> None:
            events.append(event)
            arrived.set()

        client.on_event(on_event)
        try:
            await client.connect()
            await client.subscribe(["CHANNEL_CREATE", "CHANNEL_HANGUP_COMPLETE"])
            before = await emu.place_call("9000", script=CallerScript())
            await _event_for(events, arrived, "CHANNEL_HANGUP_COMPLETE", before.uuid, 5)

            await emu.stop()  # FreeSWITCH goes away ...
            await asyncio.sleep(DOWN_S)
            assert not client.connected
            await emu.start(port)  # ... and is back on the same port
            back = time.monotonic()
            await client.wait_connected(timeout=10)
            reconnect_s = time.monotonic() - back

            after = await emu.place_call("9000", script=CallerScript())
            created = await _event_for(events, arrived, "CHANNEL_CREATE", after.uuid, 2)
            await _event_for(events, arrived, "CHANNEL_HANGUP_COMPLETE", after.uuid, 5)
            status = await client.api("status")
            assert status.ok and status.body.startswith("UP ")
            return reconnect_s, client.reconnects, [created.name]
        finally:
            await client.close()
            await emu.stop()

    reconnect_s, reconnects, names = asyncio.run(main())
    assert reconnect_s < 2.0, f"reconnected {reconnect_s:.2f}s after FreeSWITCH was back"
    assert reconnects == 1
    assert names == ["CHANNEL_CREATE"]  # the subscription made before the restart was replayed
