"""Tools for the opt-in suite that runs against a REAL FreeSWITCH (tests/test_live_freeswitch.py).

Everything here talks to FreeSWITCH only through the project's own code (InboundClient,
OutboundServer, reloadxml), so a failure points at the application, not at a test double. The
rest exists to keep a shared lab switch clean and the failures readable:

* ``LiveSettings``: the ESL_APPS_FS_* variables, or one skip reason naming them (never the password).
* ``FsControl``: one inbound connection per test; records events, originates loopback calls with a
  known a-leg uuid and kills every channel it started, even when the test failed.
* ``WireTap``: relays FreeSWITCH's ``socket`` connection to the OutboundServer keeping both byte
  streams, so a test can assert what went over the wire (``exit`` after the hangup) and a failure
  can be read like the recorded traces.
* ``DialplanDir``: writes only ``NN_esl_apps_*.xml`` files and restores the directory exactly
  (a deployment's own esl-apps files included) when the module ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid as uuidlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from esl_apps.dialplan.reload import reloadxml
from esl_apps.dialplan.render import GENERATED_NAME
from esl_apps.dialplan.writer import write_atomic
from esl_apps.esl.inbound import InboundClient
from esl_apps.esl.outbound import OutboundServer, OutboundSession
from esl_apps.esl.protocol import ApiResponse, Event

T = TypeVar("T")

ENV_HOST = "ESL_APPS_FS_HOST"
ENV_PORT = "ESL_APPS_FS_PORT"
ENV_PASSWORD = "ESL_APPS_FS_PASSWORD"
ENV_PASSWORD_FILE = "ESL_APPS_FS_PASSWORD_FILE"
ENV_DIALPLAN_DIR = "ESL_APPS_FS_DIALPLAN_DIR"
ENV_APP_HOST = "ESL_APPS_FS_APP_HOST"
ENV_RECORDINGS_DIR = "ESL_APPS_FS_RECORDINGS_DIR"

TEST_CONTEXT = "public"  # stock public.xml includes public/*.xml; the traces used this context too
TEST_FILE = f"{TEST_CONTEXT}/90_esl_apps_live.xml"
APP_EXTENSION = "esl_apps_live_app"  # runs `socket` to the test's server
AGENT_EXTENSION = "esl_apps_live_agent"  # answers, talks 1.5 s, hangs up (a bridge target)


@dataclass(frozen=True, slots=True)
class LiveSettings:
    host: str
    port: int
    password: str = field(repr=False)
    dialplan_dir: Path | None
    app_host: str
    recordings_dir: Path | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> LiveSettings | str:
        """The settings, or the reason to skip (naming the variables, never the password)."""
        host = env.get(ENV_HOST, "").strip()
        password = env.get(ENV_PASSWORD, "")
        if not password and env.get(ENV_PASSWORD_FILE):
            try:
                password = Path(env[ENV_PASSWORD_FILE]).read_text(encoding="utf-8").strip()
            except OSError as exc:
                return f"{ENV_PASSWORD_FILE}: cannot read it ({exc.strerror})"
        if not host or not password:
            return (f"no FreeSWITCH configured: set {ENV_HOST}, {ENV_PORT} (8021) and {ENV_PASSWORD} "
                    f"or {ENV_PASSWORD_FILE} (and {ENV_DIALPLAN_DIR} for the call tests); "
                    "see docs/live-testing.md")
        port = env.get(ENV_PORT, "8021").strip()
        if not port.isdigit():
            return f"{ENV_PORT} must be a port number, not {port!r}"
        dialplan = env.get(ENV_DIALPLAN_DIR, "").strip()
        recordings = env.get(ENV_RECORDINGS_DIR, "").strip()
        return cls(host, int(port), password, Path(dialplan) if dialplan else None,
                   env.get(ENV_APP_HOST, "").strip() or "127.0.0.1", Path(recordings) if recordings else None)

    def unreachable(self, timeout: float = 2.0) -> str | None:
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout):
                return None
        except OSError as exc:
            return (f"FreeSWITCH event socket {self.host}:{self.port} ({ENV_HOST}/{ENV_PORT}) is not "
                    f"reachable: {exc.strerror or exc}")

    def free_app_port(self) -> int:
        """A port on the app host for the socket action; FreeSWITCH must be able to reach it."""
        with socket.socket() as sock:
            sock.bind((self.app_host, 0))
            return sock.getsockname()[1]


@contextlib.contextmanager
def refused_port(host: str) -> Iterator[int]:
    """A bound port that does not listen: a connect to it is refused at once (trace 06a), the way
    FreeSWITCH sees a stopped esl-apps; holding it keeps anyone else from taking the port."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        yield sock.getsockname()[1]


class FsControl:
    """One authenticated inbound connection for a test, with an event log and channel cleanup."""

    def __init__(self, settings: LiveSettings) -> None:
        self.settings = settings
        self.client = InboundClient(settings.host, settings.port, settings.password, reconnect=False)
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        self._channels: list[str] = []
        self._jobs: dict[str, asyncio.Task[str]] = {}  # a-leg uuid -> bgapi originate
        self._callers: dict[str, str] = {}  # a-leg uuid -> its unique caller id number

    async def __aenter__(self) -> FsControl:
        self.client.on_event(self._record)
        await self.client.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.kill_all()
        for job in self._jobs.values():
            job.cancel()
        await asyncio.gather(*self._jobs.values(), return_exceptions=True)
        await self.client.close()

    def _record(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def api(self, command: str, args: str = "") -> ApiResponse:
        return await self.client.api(command, args)

    async def wait_for(self, found: Callable[[list[Event]], T | None], timeout: float, what: str) -> T:
        """Wait until ``found(events so far)`` returns something; fail with ``what`` on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            result = found(self.events)
            if result is not None:
                return result
            self._changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"FreeSWITCH: no {what} within {timeout:.0f}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def originate(self, destination: str, context: str = TEST_CONTEXT) -> str:
        """``originate {origination_uuid=A,...}loopback/<destination>/<context> &park()`` in the
        background. The a-leg (uuid A, returned now) parks; the b-leg runs the extension and is the
        one our application controls. DTMF sent to A arrives on the b-leg (trace 07)."""
        a_uuid = str(uuidlib.uuid4())
        self._channels.append(a_uuid)
        caller = self._callers[a_uuid] = f"555{uuidlib.uuid4().int % 10**7:07d}"
        dial = (f"{{origination_uuid={a_uuid},origination_caller_id_number={caller},originate_timeout=30}}"
                f"loopback/{destination}/{context} &park()")
        self._jobs[a_uuid] = asyncio.ensure_future(self.client.bgapi("originate", dial))
        return a_uuid

    def originate_result(self, a_uuid: str) -> str:
        """The originate's reply so far: ``+OK <uuid>``, ``-ERR <cause>`` or "still running"."""
        job = self._jobs.get(a_uuid)
        if job is None or not job.done():
            return "still running"
        return repr(job.exception()) if job.exception() else job.result().strip()

    async def missing_modules(self, names: tuple[str, ...]) -> list[str]:
        return [n for n in names if (await self.api("module_exists", n)).body.strip() != "true"]

    def track(self, uuid: str) -> None:
        self._channels.append(uuid)

    async def kill_all(self) -> None:
        """``uuid_kill`` every channel this test started (``-ERR No such channel`` is fine), over a
        new connection if FreeSWITCH dropped ours: a failed test must not leave calls parked."""
        client, s = self.client, self.settings
        if self._channels and not client.connected:
            client = InboundClient(s.host, s.port, s.password, reconnect=False)
            with contextlib.suppress(Exception):
                await client.connect()
        for uuid in self._channels:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.api("uuid_kill", uuid), 5)
        self._channels.clear()
        if client is not self.client:
            await client.close()

    def b_leg_of(self, a_uuid: str) -> Callable[[Mapping[str, str]], bool]:
        """Whether headers (an event's, a connect reply's) belong to the b-leg paired with
        ``a_uuid``: mod_loopback sets ``other_loopback_leg_uuid=A`` on it and clones the a-leg's
        caller profile, so either identifies it among other calls on a shared switch."""
        caller = self._callers.get(a_uuid)
        return lambda h: h.get("Unique-ID") != a_uuid and (
            h.get("variable_other_loopback_leg_uuid") == a_uuid or h.get("Caller-Caller-ID-Number") == caller)


class WireTap:
    """A TCP relay in front of the OutboundServer that keeps every chunk in arrival order."""

    def __init__(self, host: str, port: int, target_port: int) -> None:
        self.host, self.port, self.target_port = host, port, target_port
        self.chunks: list[tuple[str, bytes]] = []  # ("fs" | "app", data), in the order read
        self._server: asyncio.Server | None = None
        self._pumps: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port, reuse_address=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in self._pumps:
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    async def _accept(self, fs_reader: asyncio.StreamReader, fs_writer: asyncio.StreamWriter) -> None:
        app_reader, app_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        for direction, reader, writer in (("fs", fs_reader, app_writer), ("app", app_reader, fs_writer)):
            task = asyncio.ensure_future(self._pump(direction, reader, writer))
            self._pumps.add(task)

    async def _pump(self, direction: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                self.chunks.append((direction, data))
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()  # one side closed: close the other, as a direct connection would

    def stream(self, direction: str) -> bytes:
        return b"".join(data for d, data in self.chunks if d == direction)

    def first_chunk(self, direction: str, needle: bytes) -> int | None:
        """Index (in ``chunks``) of the chunk that completed the first ``needle`` in ``direction``."""
        seen = b""
        for index, (d, data) in enumerate(self.chunks):
            if d == direction:
                seen += data
                if needle in seen:
                    return index
        return None

    def transcript(self) -> str:
        return "".join(f"{'<<< fs' if d == 'fs' else '>>> app'} [{len(data)} bytes]\n"
                       f"{data.decode('utf-8', 'replace')}\n" for d, data in self.chunks)


@dataclass
class CallRun:
    """What one call through the socket application produced."""

    a_uuid: str
    tap: WireTap
    session: OutboundSession | None = None
    result: Any = None
    error: BaseException | None = None
    events: list[Event] = field(default_factory=list)  # the session's own events, in order
    dtmf_sent: list[str] = field(default_factory=list)  # api replies to uuid_send_dtmf
    finished: asyncio.Future[None] | None = field(default=None, repr=False)  # the application returned

    def names(self) -> list[str]:
        return [e.name for e in self.events]


async def run_socket_call(
    fs: FsControl,
    app: Callable[[OutboundSession], Awaitable[Any]],
    *,
    app_port: int,
    destination: str = APP_EXTENSION,
    context: str = TEST_CONTEXT,
    dtmf: tuple[str, ...] = (),
    hangup_on: tuple[str, ...] = (),
    events: tuple[str, ...] = (),
    timeout_s: float = 30.0,
) -> CallRun:
    """Originate a loopback call whose b-leg reaches ``app`` through the real outbound socket.

    ``dtmf``: one entry per play_and_get_digits the application starts ("" keys nothing); each is sent with
    ``uuid_send_dtmf`` to the a-leg half a second after the collection began (PAGD flushes DTMF
    when a try starts, so keys sent with its CHANNEL_EXECUTE could be lost). ``hangup_on``: the
    caller hangs up (a-leg killed) a second after the application starts one of these.
    A timeout is reported in ``error`` so the wire log still reaches the test."""
    finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    server = OutboundServer(lambda s: _serve(s, run, app, fs, list(dtmf), hangup_on), "127.0.0.1", 0,
                            max_calls=4, events=events, end_timeout_s=5.0, max_linger_s=10.0)
    await server.start()
    run = CallRun(a_uuid="", tap=WireTap(fs.settings.app_host, app_port, server.port), finished=finished)
    try:
        await run.tap.start()
        run.a_uuid = fs.originate(destination, context)
        await asyncio.wait_for(asyncio.shield(finished), timeout_s)
        session = run.session
        if session is not None and session.task is not None:
            await asyncio.wait_for(asyncio.shield(session.task), 15)  # hangup complete, exit, close
    except TimeoutError:
        stage = "finish its call" if run.session else "connect to the socket application"
        run.error = run.error or AssertionError(
            f"FreeSWITCH/app did not {stage} in time (originate: {fs.originate_result(run.a_uuid)})")
    finally:
        await fs.kill_all()
        await server.stop(2.0)
        await run.tap.stop()
    return run


async def _serve(session: OutboundSession, run: CallRun, app: Callable[[OutboundSession], Awaitable[Any]],
                 fs: FsControl, dtmf: list[str], hangup_on: tuple[str, ...]) -> None:
    if not fs.b_leg_of(run.a_uuid)(session.channel):
        return  # not our call (a shared switch): closing hands it back to its dialplan
    run.session = session
    fs.track(session.uuid)

    async def send_keys(keys: str) -> None:
        await asyncio.sleep(0.5)
        if keys:  # "": the caller keys nothing at this collection
            run.dtmf_sent.append((await fs.api("uuid_send_dtmf", f"{run.a_uuid} {keys}")).body.strip())

    async def caller_hangs_up() -> None:
        await asyncio.sleep(1.0)
        await fs.api("uuid_kill", run.a_uuid)

    def watch(event: Event) -> Awaitable[None] | None:
        if event.get("Unique-ID") != session.uuid:
            return None
        run.events.append(event)
        app_name = event.get("Application") if event.name == "CHANNEL_EXECUTE" else None
        if app_name == "play_and_get_digits" and dtmf:
            return send_keys(dtmf.pop(0))
        if app_name in hangup_on:
            return caller_hangs_up()
        return None

    session.add_event_listener(watch)
    try:
        run.result = await app(session)
    except BaseException as exc:
        run.error = exc
        raise
    finally:
        if run.finished is not None and not run.finished.done():
            run.finished.set_result(None)


class DialplanDir:
    """The FreeSWITCH dialplan directory the tests may write into (ESL_APPS_FS_DIALPLAN_DIR)."""

    def __init__(self, settings: LiveSettings) -> None:
        assert settings.dialplan_dir is not None
        self.root = settings.dialplan_dir
        self.settings = settings
        self._saved = self._esl_apps_files()

    def _esl_apps_files(self) -> dict[Path, bytes]:
        if not self.root.is_dir():
            return {}
        return {path: path.read_bytes() for path in self.root.glob("*/*.xml")
                if path.is_file() and GENERATED_NAME.fullmatch(path.name)}

    def install(self, relpath: str, text: str) -> bool:
        """Write ``relpath`` (an NN_esl_apps_*.xml) if it differs; True when it was written."""
        path = self.root / relpath
        assert GENERATED_NAME.fullmatch(path.name), path
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return False
        write_atomic(path, text)
        return True

    def reload(self) -> str:
        """``reloadxml`` through the project's own client; raises ReloadFailed on a parse error."""
        s = self.settings
        return reloadxml(s.host, s.port, s.password, timeout=15.0).reply.strip()

    def restore(self) -> None:
        """Put back exactly the esl-apps files that were there before the tests, then reloadxml."""
        for path in self._esl_apps_files():
            if path not in self._saved:
                path.unlink(missing_ok=True)
        for path, data in self._saved.items():
            if not path.is_file() or path.read_bytes() != data:
                write_atomic(path, data.decode("utf-8"))
        self.reload()
