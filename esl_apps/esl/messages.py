"""Messages FreeSWITCH sends to an ESL client, as immutable values.

One class per content type so the transport can dispatch with `match`/`isinstance` instead of string
comparisons scattered through the code; anything unexpected becomes UnknownMessage rather than an exception,
because an unknown content type should be logged and skipped, not end a call.
Header mappings are plain dicts for speed; treat them as read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

_ERROR_PREFIXES = ("-ERR", "-USAGE")


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """Greeting on an inbound connection: FreeSWITCH waits for `auth <password>`."""


@dataclass(frozen=True, slots=True)
class CommandReply:
    """`command/reply`; for the outbound `connect` reply, `headers` is the decoded channel data."""

    reply_text: str
    headers: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return self.reply_text.startswith("+OK")

    @property
    def job_uuid(self) -> str | None:
        """Job-UUID of a `bgapi` reply: the key of the BACKGROUND_JOB that will carry the result."""
        return self.headers.get("Job-UUID")

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """`api/response`: the command's output; FreeSWITCH reports failures only in the text."""

    body: str

    @property
    def ok(self) -> bool:
        return not self.body.startswith(_ERROR_PREFIXES)


@dataclass(frozen=True, slots=True)
class Event:
    """An event (`text/event-plain` or `text/event-json`), header values already URL-decoded."""

    name: str
    headers: Mapping[str, str]
    body: str | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    @property
    def uuid(self) -> str | None:
        return self.headers.get("Unique-ID")

    @property
    def application_uuid(self) -> str | None:
        """Echo of the sendmsg Event-UUID: the only safe way to match an EXECUTE_COMPLETE to its command."""
        return self.headers.get("Application-UUID")

    @property
    def subclass(self) -> str | None:
        return self.headers.get("Event-Subclass")

    def header_items(self) -> list[tuple[str, str]]:
        """All headers in wire order, repeated names kept (the mapping keeps one value per name)."""
        pairs = getattr(self.headers, "pairs", None)
        return pairs() if pairs is not None else list(self.headers.items())

    def variable(self, name: str, default: str | None = None) -> str | None:
        """Channel variable `name` as carried by the event (`variable_<name>`)."""
        return self.headers.get("variable_" + name, default)


@dataclass(frozen=True, slots=True)
class DisconnectNotice:
    """`text/disconnect-notice`; disposition "linger" means events keep coming until we send `exit`."""

    disposition: str | None
    headers: Mapping[str, str]
    body: str = ""

    @property
    def linger(self) -> bool:
        return self.disposition == "linger"


@dataclass(frozen=True, slots=True)
class RudeRejection:
    """`text/rude-rejection`: the ESL ACL refused us; FreeSWITCH closes right after."""

    body: str


@dataclass(frozen=True, slots=True)
class LogData:
    """`log/data` after a `log <level>` command; `headers` has Log-Level, Log-File, Log-Func, ..."""

    headers: Mapping[str, str]
    body: str


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """Any other content type (e.g. text/event-xml): kept raw so the transport can log and skip it."""

    content_type: str
    headers: Mapping[str, str]
    body: bytes


Message = (
    AuthRequest | CommandReply | ApiResponse | Event | DisconnectNotice | RudeRejection | LogData
    | UnknownMessage
)
