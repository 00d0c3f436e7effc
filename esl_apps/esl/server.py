"""The FreeSWITCH side of the wire, for the emulator: parse commands, serialise replies and events.

Parsing follows mod_event_socket.c read_packet(): leading CR/LF is skipped, the header block ends at two
newlines (CRs in between are ignored), the first line is the command, a header line without a colon is
ignored, leading spaces of a value are stripped, and a `content-length` header (any case) pulls in a body.
Serialisers reproduce the exact bytes FreeSWITCH writes (checked against the recorded traces), including
its quirks: the `connect` reply is a serialised event with no outer Content-Length, empty event values
become `_undef_`, an empty api result becomes `-ERR no reply\\n`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .encoding import encode_many
from .errors import LocalProtocolError, RemoteProtocolError

MAX_COMMAND_BYTES = 16 * 1024 * 1024
GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
RUDE_REJECTION = "Access Denied, go away.\n"

HeaderItems = Sequence[tuple[str, str]] | Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Command:
    """One command from an ESL client. `name` is the first word lower-cased, `args` the rest of the line."""

    name: str
    args: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def get(self, name: str, default: str | None = None) -> str | None:
        """Header lookup ignoring case, as FreeSWITCH's switch_event_get_header does."""
        value = self.headers.get(name)
        if value is not None:
            return value
        lower = name.lower()
        for key, val in self.headers.items():
            if key.lower() == lower:
                return val
        return default

    @property
    def line(self) -> str:
        return f"{self.name} {self.args}" if self.args else self.name


def _parse_command(block: str) -> tuple[Command, int]:
    """-> (command without body, body length)."""
    lines = [ln for ln in block.replace("\r", "\n").split("\n") if ln]
    first = lines[0] if lines else ""
    name, _, args = first.partition(" ")
    headers: dict[str, str] = {}
    length = 0
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if not sep:
            continue  # FreeSWITCH ignores header lines without a colon
        value = value.lstrip(" ")
        headers[key] = value
        if key.lower() == "content-length":
            text = value.strip()
            length = int(text) if text.isascii() and text.isdigit() else 0  # atoi()-like leniency
            if length > MAX_COMMAND_BYTES:
                raise RemoteProtocolError(f"command body of {length} bytes exceeds the limit")
    return Command(name.lower(), args, headers), length


class CommandParser:
    """Incremental parser for the client -> FreeSWITCH direction (what the emulator reads)."""

    __slots__ = ("_buf", "_error", "_pending")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pending: tuple[Command, int] | None = None
        self._error: str | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> list[Command]:
        if self._error is not None:
            raise RemoteProtocolError(self._error)
        buf = self._buf
        buf += data
        out: list[Command] = []
        pos = 0
        try:
            while True:
                if self._pending is not None:
                    cmd, length = self._pending
                    if len(buf) - pos < length:
                        break
                    body = bytes(buf[pos : pos + length])
                    out.append(Command(cmd.name, cmd.args, cmd.headers, body))
                    pos += length
                    self._pending = None
                    continue
                size = len(buf)
                while pos < size and buf[pos] in b"\r\n":
                    pos += 1
                if pos >= size:
                    break
                end, stop = self._block_end(buf, pos)
                if end < 0:
                    if size - pos > MAX_COMMAND_BYTES:
                        raise RemoteProtocolError("command header block too large")
                    break
                cmd, length = _parse_command(buf[pos:end].decode("utf-8", "replace"))
                pos = stop
                if length:
                    self._pending = (cmd, length)
                else:
                    out.append(cmd)
        except RemoteProtocolError as exc:
            self._error = str(exc)
            raise RemoteProtocolError(str(exc), out) from None
        if pos:
            del buf[:pos]
        return out

    @staticmethod
    def _block_end(buf: bytearray, pos: int) -> tuple[int, int]:
        """End of the header block: two LFs with only CRs between them. -> (end, index after it)."""
        start = pos
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                return -1, -1
            nxt = nl + 1
            while nxt < len(buf) and buf[nxt] == 13:
                nxt += 1
            if nxt < len(buf) and buf[nxt] == 10:
                return nl, nxt + 1
            if nxt >= len(buf):
                return -1, -1
            start = nxt


# ---------------------------------------------------------------------------------------------- replies


def _items(headers: HeaderItems) -> Iterable[tuple[str, str]]:
    return headers.items() if isinstance(headers, Mapping) else headers


def _raw_line(name: str, value: str) -> str:
    if "\n" in name or "\n" in value or "\r" in value or ":" in name:
        raise LocalProtocolError(f"header {name!r}: {value!r} would break the framing")
    return f"{name}: {value}\n"


def auth_request_bytes() -> bytes:
    return b"Content-Type: auth/request\n\n"


def command_reply_bytes(reply_text: str, extra_headers: HeaderItems = ()) -> bytes:
    """`command/reply`; bgapi adds `Job-UUID`. Values are NOT URL-encoded (FreeSWITCH sends them raw)."""
    parts = ["Content-Type: command/reply\n", _raw_line("Reply-Text", reply_text)]
    parts += [_raw_line(k, v) for k, v in _items(extra_headers)]
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def api_response_bytes(body: str) -> bytes:
    raw = (body or "-ERR no reply\n").encode("utf-8")
    return b"Content-Type: api/response\nContent-Length: %d\n\n%b" % (len(raw), raw)


def serialize_event_plain(headers: HeaderItems, body: str | None = None) -> bytes:
    """switch_event_serialize(): the event payload without the outer envelope."""
    items = list(_items(headers))
    names = [name for name, _ in items]
    joined_names = "".join(names)
    if "\n" in joined_names or "\r" in joined_names or ":" in joined_names or not all(names):
        raise LocalProtocolError(f"invalid event header name among {names!r}")
    values = encode_many([value for _, value in items])
    if "" in values:
        values = [v or "_undef_" for v in values]
    count = len(items)
    parts: list[str] = [""] * (4 * count)
    parts[0::4] = names
    parts[1::4] = [": "] * count
    parts[2::4] = values
    parts[3::4] = ["\n"] * count
    text = "".join(parts)
    if body:
        raw = body.encode("utf-8")
        return (text + f"Content-Length: {len(raw)}\n\n").encode("utf-8") + raw
    return (text + "\n").encode("utf-8")


def event_plain_bytes(headers: HeaderItems, body: str | None = None) -> bytes:
    """A whole text/event-plain message; `headers` are given decoded, in wire order."""
    payload = serialize_event_plain(headers, body)
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n%b" % (len(payload), payload)


def event_json_bytes(headers: HeaderItems, body: str | None = None) -> bytes:
    """A whole text/event-json message as cJSON_PrintUnformatted writes it (arrays for ARRAY:: values)."""
    obj: dict[str, object] = {}
    for name, value in _items(headers):
        obj[name] = value[7:].split("|:") if value.startswith("ARRAY::") else value
    if body is not None:
        obj["Content-Length"] = str(len(body.encode("utf-8")))
        obj["_body"] = body
    payload = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b"Content-Length: %d\nContent-Type: text/event-json\n\n%b" % (len(payload), payload)


def connect_reply_bytes(
    channel_headers: HeaderItems, socket_mode: str = "async", control: str = "full"
) -> bytes:
    """Reply to an outbound `connect`: the channel data serialised as an event, no outer Content-Length."""
    if socket_mode not in ("async", "static"):
        raise LocalProtocolError(f"socket_mode must be async or static, not {socket_mode!r}")
    if control not in ("full", "single-channel"):
        raise LocalProtocolError(f"control must be full or single-channel, not {control!r}")
    items = [
        *_items(channel_headers),
        ("Content-Type", "command/reply"),
        ("Reply-Text", "+OK\n"),
        ("Socket-Mode", socket_mode),
        ("Control", control),
    ]
    return serialize_event_plain(items)


def disconnect_notice_bytes(
    disposition: str | None,
    uuid: str | None = None,
    channel_name: str | None = None,
    linger_time: int = -1,
) -> bytes:
    """The three notices in the traces: linger (01), session disconnect (01/06), inbound disconnect (07)."""
    if disposition == "linger":
        if uuid is None or channel_name is None:
            raise LocalProtocolError("a linger notice needs the session uuid and channel name")
        text = (
            "Content-Type: text/disconnect-notice\n"
            + _raw_line("Controlled-Session-UUID", uuid)
            + "Content-Disposition: linger\n"
            + _raw_line("Channel-Name", channel_name)
            + f"Linger-Time: {int(linger_time)}\nContent-Length: 0\n\n"
        )
        return text.encode("utf-8")
    goodbye = GOODBYE.encode()
    if disposition == "disconnect":
        if uuid is None:
            raise LocalProtocolError("a session disconnect notice needs the uuid (None = inbound form)")
        head = (
            "Content-Type: text/disconnect-notice\n"
            + _raw_line("Controlled-Session-UUID", uuid)
            + f"Content-Disposition: disconnect\nContent-Length: {len(goodbye)}\n\n"
        )
        return head.encode("utf-8") + goodbye
    if disposition is not None:
        raise LocalProtocolError(f"unknown disconnect disposition {disposition!r}")
    return b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n%b" % (len(goodbye), goodbye)


def rude_rejection_bytes() -> bytes:
    raw = RUDE_REJECTION.encode()
    return b"Content-Type: text/rude-rejection\nContent-Length: %d\n\n%b" % (len(raw), raw)


def log_data_bytes(headers: HeaderItems, body: str) -> bytes:
    """`log/data`: Content-Type, Content-Length, then Log-Level, Text-Channel, Log-File, ... as given."""
    raw = body.encode("utf-8")
    lines = "".join(
        _raw_line(k, v) for k, v in _items(headers) if k not in ("Content-Type", "Content-Length")
    )
    return f"Content-Type: log/data\nContent-Length: {len(raw)}\n{lines}\n".encode() + raw
