"""Commands an ESL application sends, as exact bytes.

Each builder returns what the recorded conversations show byte for byte (tests compare against every
`>>> sent` block). They refuse anything that would break the framing (a newline or NUL in a command line or
header, a colon in a header name): such input would let a caller-supplied value inject a second command, so
it raises LocalProtocolError instead of reaching the socket.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .errors import LocalProtocolError

INLINE_ARG_MAX_BYTES = 2048
"""Longer execute-app-arg values travel as a text/plain body; older FreeSWITCH read header lines into a
2 KiB buffer, and a body is never truncated."""

_FORMATS = ("plain", "json", "xml")


def _check_text(what: str, value: str) -> str:
    if "\n" in value or "\r" in value or "\x00" in value:
        raise LocalProtocolError(f"{what} must not contain CR, LF or NUL: {value!r}")
    return value


def _check_word(what: str, value: str) -> str:
    if not value or any(c.isspace() for c in value) or "\x00" in value:
        raise LocalProtocolError(f"{what} must be one non-empty word: {value!r}")
    return value


def command_bytes(
    line: str, headers: Iterable[tuple[str, str]] = (), body: str | bytes | None = None
) -> bytes:
    """Any command: a line, `Name: value` headers, and an optional body (Content-Length added for you).

    The typed builders below are preferred; this one exists for commands they do not cover (sendevent,
    userauth, ...) and for reproducing deliberately odd traffic in tests.
    """
    parts = [_check_text("command line", line), "\n"]
    for name, value in headers:
        if not name or ":" in name or name != name.strip():
            raise LocalProtocolError(f"invalid header name {name!r}")
        _check_text("header name", name)
        _check_text(f"header {name!r}", value)
        if name.lower() == "content-length":
            raise LocalProtocolError("Content-Length is computed from the body; do not pass it")
        parts += (name, ": ", value, "\n")
    if body is None:
        parts.append("\n")
        return "".join(parts).encode("utf-8")
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    parts += ("content-length: ", str(len(raw)), "\n\n")
    return "".join(parts).encode("utf-8") + raw


def _simple(line: str) -> bytes:
    return (_check_text("command line", line) + "\n\n").encode("utf-8")


def connect() -> bytes:
    return b"connect\n\n"


def myevents(fmt: str = "plain") -> bytes:
    """Subscribe an outbound session to its own channel's events (plain is FreeSWITCH's default)."""
    if fmt not in _FORMATS:
        raise LocalProtocolError(f"unknown event format {fmt!r}")
    return b"myevents\n\n" if fmt == "plain" else f"myevents {fmt}\n\n".encode()


def linger(seconds: int | None = None) -> bytes:
    if seconds is None:
        return b"linger\n\n"
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise LocalProtocolError(f"linger seconds must be a non-negative int: {seconds!r}")
    return f"linger {seconds}\n\n".encode()


def nolinger() -> bytes:
    return b"nolinger\n\n"


def exit_() -> bytes:
    return b"exit\n\n"


def auth(password: str) -> bytes:
    if not password:
        raise LocalProtocolError("empty ESL password")
    return _simple("auth " + password)


def _api_line(verb: str, command: str, args: str) -> str:
    _check_word(f"{verb} command", command)
    return f"{verb} {command} {args}" if args else f"{verb} {command}"


def api(command: str, args: str = "") -> bytes:
    return _simple(_api_line("api", command, args))


def bgapi(command: str, args: str = "", job_uuid: str | None = None) -> bytes:
    """Background api; pass `job_uuid` to know the BACKGROUND_JOB key before the reply arrives."""
    line = _check_text("bgapi", _api_line("bgapi", command, args))
    if job_uuid is None:
        return (line + "\n\n").encode("utf-8")
    return f"{line}\nJob-UUID: {_check_word('Job-UUID', job_uuid)}\n\n".encode()


def _names(names: Sequence[str] | str) -> str:
    if isinstance(names, str):
        names = names.split()
    if not names:
        raise LocalProtocolError("at least one event name is required")
    return " ".join(_check_word("event name", n) for n in names)


def event(names: Sequence[str] | str, fmt: str = "plain") -> bytes:
    """`event <fmt> NAME...`; custom subclasses go after CUSTOM (`["CUSTOM", "vm::maintenance"]`)."""
    if fmt not in _FORMATS:
        raise LocalProtocolError(f"unknown event format {fmt!r}")
    return f"event {fmt} {_names(names)}\n\n".encode()


def nixevent(names: Sequence[str] | str) -> bytes:
    return f"nixevent {_names(names)}\n\n".encode()


def noevents() -> bytes:
    return b"noevents\n\n"


def filter_(header: str, value: str) -> bytes:
    """Only events whose `header` matches `value` are delivered once any filter exists."""
    return _simple(f"filter {_check_word('filter header', header)} {value}")


def filter_delete(header: str, value: str | None = None) -> bytes:
    line = f"filter delete {_check_word('filter header', header)}"
    return _simple(line if value is None else f"{line} {value}")


def divert_events(on: bool) -> bytes:
    return b"divert_events on\n\n" if on else b"divert_events off\n\n"


def resume() -> bytes:
    return b"resume\n\n"


def getvar(name: str) -> bytes:
    return _simple("getvar " + _check_word("variable name", name))


def log(level: str | int) -> bytes:
    return _simple("log " + _check_word("log level", str(level)))


def nolog() -> bytes:
    return b"nolog\n\n"


def _sendmsg_line(uuid: str | None) -> str:
    return "sendmsg" if uuid is None else "sendmsg " + _check_word("uuid", uuid)


def sendmsg(
    call_command: str,
    headers: Sequence[tuple[str, str]] = (),
    uuid: str | None = None,
    body: str | None = None,
) -> bytes:
    """Generic sendmsg (unicast, nomedia, xferext, ...): `call-command` first, then `headers` in order."""
    return command_bytes(
        _sendmsg_line(uuid), [("call-command", _check_word("call-command", call_command)), *headers], body
    )


def sendmsg_execute(
    app: str,
    arg: str | None = None,
    *,
    uuid: str | None = None,
    event_lock: bool = True,
    event_uuid: str | None = None,
    loops: int | None = None,
    async_: bool = False,
) -> bytes:
    """Execute a dialplan application on the channel.

    `event_lock` (default on) queues the application behind the one running instead of nesting it inside;
    `event_uuid` comes back as Application-UUID on CHANNEL_EXECUTE/_COMPLETE, the only reliable way to
    match a completion to this command. An argument with a newline, leading blanks (FreeSWITCH strips them
    from header values) or over INLINE_ARG_MAX_BYTES is sent as a text/plain body instead.
    """
    headers: list[tuple[str, str]] = [
        ("call-command", "execute"),
        ("execute-app-name", _check_word("application name", app)),
    ]
    body: str | None = None
    if arg:
        if "\x00" in arg:
            raise LocalProtocolError("application argument must not contain NUL")
        inline = (
            "\n" not in arg and "\r" not in arg and arg[0] not in " \t"
            and len(arg.encode("utf-8")) <= INLINE_ARG_MAX_BYTES
        )
        if inline:
            headers.append(("execute-app-arg", arg))
        else:
            body = arg
    if event_lock:
        headers.append(("event-lock", "true"))
    if event_uuid is not None:
        headers.append(("Event-UUID", _check_word("Event-UUID", event_uuid)))
    if loops is not None:
        if isinstance(loops, bool) or not isinstance(loops, int) or loops < 1:
            raise LocalProtocolError(f"loops must be a positive int: {loops!r}")
        headers.append(("loops", str(loops)))
    if async_:
        headers.append(("async", "true"))
    if body is not None:
        headers.append(("content-type", "text/plain"))
    return command_bytes(_sendmsg_line(uuid), headers, body)


def sendmsg_hangup(cause: str = "NORMAL_CLEARING", uuid: str | None = None) -> bytes:
    return sendmsg("hangup", [("hangup-cause", _check_word("hangup cause", cause))], uuid=uuid)


def sendevent(name: str, headers: Sequence[tuple[str, str]] = (), body: str | None = None) -> bytes:
    """Fire an event into FreeSWITCH (e.g. CUSTOM with Event-Subclass); reply is `+OK <Event-UUID>`."""
    return command_bytes("sendevent " + _check_word("event name", name), headers, body)
