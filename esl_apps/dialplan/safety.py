"""Text that is safe to put into a FreeSWITCH XML file, and the build-time checks that need it.

XML escaping alone is not enough for FreeSWITCH: its preprocessor reads the file *line by line
before* the XML parser (``switch_xml.c`` ``preprocess``) and

* drops every line containing ``<include>``, ``</include>`` or ``<?``;
* treats a line containing ``X-PRE-PROCESS`` (any case) as a directive, and drops it when the
  text is not a real ``<X-PRE-PROCESS`` tag;
* runs ``<!--#include ...-->`` style commands found anywhere in a line;
* replaces ``$${name}`` with a global variable, unescaped, on every line.

Escaping ``<`` defeats the first and third. The others are handled here: values that change what
FreeSWITCH does (action data, expressions) are *rejected* with a configuration error that names
the YAML key; free text that is only informative (names in comments) is *cleaned*. Characters XML
1.0 cannot carry at all (C0 controls other than tab/LF/CR, U+FFFE/U+FFFF, lone surrogates) are
handled the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from markupsafe import Markup, escape

from esl_apps.config import Config, ConfigIssue
from esl_apps.config.errors import KeyPath, format_key_path
from esl_apps.config.locate import mark_for

__all__ = ["HAZARD", "UnsafeValue", "attribute", "build_issues", "comment_text", "unsafe_reason"]

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
_PREPROCESS = re.compile("x-pre-process", re.IGNORECASE)
HAZARD = re.compile(_CONTROL.pattern + r"|x-pre-process|\$\$\{", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_HOST = re.compile(r"[A-Za-z0-9_.\-]{1,253}|\[?[0-9A-Fa-f:.]{2,45}\]?")


class UnsafeValue(ValueError):
    """A value that cannot be written into the dialplan as it is (see the module docstring)."""


def unsafe_reason(text: str) -> str | None:
    """Why ``text`` must not go into an attribute value, or None when it is safe."""
    if HAZARD.search(text) is None:  # one scan for the common, clean case
        return None
    bad = _CONTROL.search(text)
    if bad:
        return f"contains the control character U+{ord(bad.group()):04X}"
    if _PREPROCESS.search(text):
        return "contains 'X-PRE-PROCESS', which FreeSWITCH's preprocessor would act on"
    if "$${" in text:
        return "contains '$${', which FreeSWITCH's preprocessor replaces when the file is loaded"
    return None


def attribute(value: object) -> Markup:
    """Escape a value for an attribute (``& < > " '``), refusing what escaping cannot make safe."""
    if isinstance(value, Markup):
        return value
    text = str(value)
    reason = unsafe_reason(text)
    if reason:
        raise UnsafeValue(f"value {text[:60]!r} {reason}")
    return escape(text)


def comment_text(value: object) -> Markup:
    """Informative text for inside ``<!-- ... -->``: cleaned, never rejected."""
    text = _CONTROL.sub(" ", str(value))
    text = _PREPROCESS.sub("x-pre_process", text)
    while "$${" in text:
        text = text.replace("$${", "$ ${")
    while "--" in text:
        text = text.replace("--", "- -")
    text = " ".join(text.split())
    if text.endswith("-"):
        text += " "
    return escape(text)


def xml_safe(text: str) -> bool:
    """True when every character may appear in an XML 1.0 document."""
    return _INVALID_XML.search(text) is None


# ------------------------------------------------------------------------- configuration checks


def _pbx_values(config: Config) -> Iterator[tuple[KeyPath, str, re.Pattern[str] | None, str]]:
    """(key path, value, required shape, what the shape is) for every pbx.yaml value the dialplan
    writes into action data or uses as a file/directory name."""
    pbx = config.pbx
    ident = "a name of letters, digits, '_', '.' or '-'"
    yield ("dialplan", "context"), pbx.dialplan.context, _NAME, ident
    yield ("dialplan", "internal_context"), pbx.dialplan.internal_context, _NAME, ident
    yield ("dialplan", "sip_profile"), pbx.dialplan.sip_profile, _NAME, ident
    yield ("dialplan", "app_host"), pbx.dialplan.app_host, _HOST, "a host name or IP address"
    yield ("voicemail", "profile"), pbx.voicemail.profile, _NAME, ident
    if pbx.voicemail.domain is not None:
        yield ("voicemail", "domain"), pbx.voicemail.domain, _HOST, "a domain name"
    for index, agent in enumerate(pbx.agents):
        for position, endpoint in enumerate(agent.endpoints):
            yield ("agents", index, "endpoints", position), endpoint, None, ""


def build_issues(config: Config) -> list[ConfigIssue]:
    """Problems that only matter for the generated XML (``esl-apps validate`` accepts them), each
    at the file:line:column of its key."""
    source = config.sources.get(config.files[0]) if config.files else None
    marks = source.marks if source is not None else {}
    file = source.name if source is not None else "pbx.yaml"
    issues: list[ConfigIssue] = []
    for path, value, shape, expected in _pbx_values(config):
        reason = unsafe_reason(value)
        if reason is None and shape is not None and not shape.fullmatch(value):
            reason = f"expected {expected}, got {value[:60]!r}"
        if reason is not None:
            line, column = mark_for(marks, path)
            message = f"cannot be written into the dialplan: {reason}"
            issues.append(ConfigIssue(file, line, column, format_key_path(path), message))
    return issues
