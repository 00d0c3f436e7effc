"""Client-side framing: bytes from FreeSWITCH in, Message values out (no sockets, no asyncio).

Wire format (mod_event_socket.c): a header block ended by a blank line, then `Content-Length` BYTES of body.
Events nest a second header block inside that body. The parser keeps one growing buffer and only touches it
with bytes.find / slicing, so a 10 KB event costs a few C calls plus one split of its header lines; header
values are URL-decoded lazily (see headers.LazyHeaders) because a flow reads few of the ~200 headers.
"""

from __future__ import annotations

import json

from .encoding import decode_many
from .errors import RemoteProtocolError
from .headers import LazyHeaders, split_header_lines
from .messages import (
    ApiResponse,
    AuthRequest,
    CommandReply,
    DisconnectNotice,
    Event,
    LogData,
    Message,
    RudeRejection,
    UnknownMessage,
)

MAX_FRAME_BYTES = 16 * 1024 * 1024
"""Largest header block or body we accept; FreeSWITCH caps what it reads at 16 MiB too."""

_AUTH_REQUEST = AuthRequest()


def _content_length(value: str | None, limit: int) -> int:
    if value is None:
        return 0
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        raise RemoteProtocolError(f"invalid Content-Length {value!r}")
    length = int(text)
    if length > limit:
        raise RemoteProtocolError(f"Content-Length {length} exceeds the {limit} byte limit")
    return length


def parse_header_lines(text: str) -> dict[str, str]:
    """`Name: value` lines -> dict (a repeated name keeps its last value)."""
    it = iter(split_header_lines(text))
    return dict(zip(it, it, strict=True))


def _decode_all(raw: dict[str, str]) -> dict[str, str]:
    keys = [k for k, v in raw.items() if "%" in v]
    if keys:
        raw = dict(raw)
        raw.update(zip(keys, decode_many([raw[k] for k in keys]), strict=True))
    return raw


def parse_event_plain(payload: bytes | bytearray) -> Event:
    """The body of a text/event-plain message: encoded header lines, blank line, optional inner body.

    FreeSWITCH appends the inner `Content-Length` as the last header when the event has a body; it is
    taken off the headers (serialisers add it back) and delimits the body in bytes.
    """
    split = payload.find(b"\n\n")
    if split < 0:
        head, rest = payload.rstrip(b"\n"), b""
    else:
        head, rest = payload[:split], payload[split + 2 :]
    text = head.decode("utf-8", "replace")
    at = text.rfind("\nContent-Length:")
    if at >= 0 and text.find("\n", at + 1) < 0:
        length = _content_length(text[at + 16 :], MAX_FRAME_BYTES)
        headers = LazyHeaders(text[:at])
    elif at >= 0 or text.startswith("Content-Length:"):
        # Not where FreeSWITCH puts it: split now and take it out of the mapping.
        flat = split_header_lines(text)
        length_value = None
        kept: list[str] = []
        for i in range(0, len(flat), 2):
            if flat[i] == "Content-Length":
                length_value = flat[i + 1]
            else:
                kept += flat[i : i + 2]
        length = -1 if length_value is None else _content_length(length_value, MAX_FRAME_BYTES)
        headers = LazyHeaders.from_flat(kept)
    else:
        length = -1
        headers = LazyHeaders(text)
    body: str | None = None
    if length >= 0:
        if len(rest) < length:
            raise RemoteProtocolError(f"event body shorter ({len(rest)}) than its Content-Length ({length})")
        body = bytes(rest[:length]).decode("utf-8", "replace")
    return Event(headers.get("Event-Name", ""), headers, body)


def parse_event_json(payload: bytes | bytearray) -> Event:
    """The body of a text/event-json message: one flat object, arrays for multi-value headers, `_body`."""
    try:
        obj = json.loads(bytes(payload).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RemoteProtocolError(f"undecodable text/event-json: {exc}") from None
    if not isinstance(obj, dict):
        raise RemoteProtocolError("text/event-json payload is not an object")
    headers: dict[str, str] = {}
    body: str | None = None
    for name, value in obj.items():
        if name == "_body":
            body = value if isinstance(value, str) else json.dumps(value)
        elif isinstance(value, str):
            headers[name] = value
        elif isinstance(value, list):
            # Same spelling the plain format uses for array headers, so both formats read alike.
            headers[name] = "ARRAY::" + "|:".join(str(v) for v in value)
        else:
            headers[name] = json.dumps(value)
    if body is not None:
        headers.pop("Content-Length", None)
    return Event(headers.get("Event-Name", ""), headers, body)


def build_message(headers: dict[str, str], body: bytes | bytearray) -> Message:
    """Turn one framed message (envelope headers + body bytes) into its Message value."""
    ctype = headers.get("Content-Type", "")
    if ctype == "text/event-plain":
        return parse_event_plain(body)
    if ctype == "command/reply":
        if next(iter(headers)) != "Content-Type":
            # The outbound `connect` reply is a serialised CHANNEL_DATA event: every value is URL-encoded.
            decoded = _decode_all(headers)
            return CommandReply(decoded.get("Reply-Text", "").removesuffix("\n"), decoded)
        return CommandReply(headers.get("Reply-Text", ""), headers)
    if ctype == "api/response":
        return ApiResponse(bytes(body).decode("utf-8", "replace"))
    if ctype == "text/event-json":
        return parse_event_json(body)
    if ctype == "auth/request":
        return _AUTH_REQUEST
    if ctype == "text/disconnect-notice":
        return DisconnectNotice(
            headers.get("Content-Disposition"), headers, bytes(body).decode("utf-8", "replace")
        )
    if ctype == "log/data":
        return LogData(headers, bytes(body).decode("utf-8", "replace"))
    if ctype == "text/rude-rejection":
        return RudeRejection(bytes(body).decode("utf-8", "replace"))
    return UnknownMessage(ctype, headers, bytes(body))


class EslParser:
    """Incremental parser for the FreeSWITCH -> client direction.

    `feed()` accepts any split of the stream (one byte at a time or many messages at once) and returns the
    messages completed so far. After a RemoteProtocolError the stream cannot be re-synchronised, so the
    parser stays failed and every later `feed()` raises again.
    """

    __slots__ = ("_buf", "_error", "_max", "_need", "_scan_from")

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._buf = bytearray()
        self._need = 0  # buffer length required before the pending frame can complete
        self._scan_from = 0  # where to resume searching for the end of an incomplete header block
        self._max = max_frame_bytes
        self._error: str | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete message."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Message]:
        if self._error is not None:
            raise RemoteProtocolError(self._error)
        buf = self._buf
        buf += data
        size = len(buf)
        if size < self._need:
            return []
        out: list[Message] = []
        pos = 0
        self._need = 0
        try:
            while pos < size:
                first = buf[pos]
                if first == 10 or first == 13:  # stray CR/LF between messages
                    pos += 1
                    continue
                end = buf.find(b"\n\n", max(pos, self._scan_from))
                if end < 0:
                    if size - pos > self._max:
                        raise RemoteProtocolError(f"header block larger than {self._max} bytes")
                    self._scan_from = max(pos, size - 1)
                    break
                self._scan_from = 0
                headers = parse_header_lines(buf[pos:end].decode("utf-8", "replace"))
                length = _content_length(headers.get("Content-Length"), self._max)
                stop = end + 2 + length
                if stop > size:
                    self._need = stop - pos
                    self._scan_from = pos  # re-parse this (small) header block when the body is complete
                    break
                out.append(build_message(headers, buf[end + 2 : stop] if length else b""))
                pos = stop
        except RemoteProtocolError as exc:
            self._error = str(exc)
            del buf[:]
            raise RemoteProtocolError(str(exc), out) from None
        if pos:
            del buf[:pos]
            self._scan_from = max(0, self._scan_from - pos)
        return out

    def close(self) -> None:
        """Called at EOF: a partial message left in the buffer means the peer cut a frame short."""
        rest = bytes(self._buf).strip(b"\r\n")
        if rest and self._error is None:
            self._error = f"connection closed inside a message ({len(rest)} bytes pending)"
            raise RemoteProtocolError(self._error)

