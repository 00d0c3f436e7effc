"""Service settings in pbx.yaml: ESL, Redis, dialplan, recording, voicemail and callbacks.

Secrets never live in the YAML: a configuration file gets copied, committed and attached to
tickets. The models therefore only hold *where* a password comes from (an environment variable
or a file) and read it at run time, when the service that needs it starts.
"""

from __future__ import annotations

import os
import re
import string
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from esl_apps.config.types import (
    ConfigModel,
    DialCode,
    DigitString,
    DtmfKey,
    HostPort,
    Identifier,
    PhoneNumber,
    parse_host_port,
)

__all__ = [
    "CallbackSettings",
    "DialplanSettings",
    "EslSettings",
    "FeatureCodes",
    "PasswordSource",
    "RecordingPolicy",
    "RecordingPrompts",
    "RecordingSettings",
    "RedisSettings",
    "SecretUnavailable",
    "SentinelSettings",
    "VoicemailBox",
    "VoicemailSettings",
]

RecordingPolicy = Literal["notify_only", "opt_out", "opt_in", "never"]
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LITERAL_SECRET = (
    "a literal password is not allowed in the YAML (configuration files get copied, committed and "
    "shared); set password_env: NAME_OF_ENV_VAR or password_file: /path/readable/only/by/esl-apps"
)


class SecretUnavailable(RuntimeError):
    """A configured password source (environment variable or file) is missing or empty."""


class PasswordSource(ConfigModel):
    """Where a password is read from at run time: exactly one of an env variable or a file."""

    password_env: str | None = None
    password_file: str | None = None
    literal_password: Any = Field(default=None, alias="password", exclude=True, repr=False)

    @field_validator("literal_password", mode="before")
    @classmethod
    def _reject_literal(cls, value: Any) -> None:
        if value is not None:
            raise ValueError(_LITERAL_SECRET)
        return None

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError(
                f"expected an environment variable name (e.g. ESL_APPS_ESL_PASSWORD), got {value!r}"
            )
        return value

    def password(self) -> str | None:
        """The secret, read now; None when no source is configured (optional for Redis)."""
        if self.password_env is not None:
            value = os.environ.get(self.password_env, "")
            if not value:
                raise SecretUnavailable(f"environment variable {self.password_env} is not set or empty")
            return value
        if self.password_file is not None:
            try:
                value = Path(self.password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SecretUnavailable(
                    f"cannot read password_file {self.password_file}: {exc.strerror}"
                ) from None
            if not value:
                raise SecretUnavailable(f"password_file {self.password_file} is empty")
            return value
        return None


class EslSettings(PasswordSource):
    host: str = "127.0.0.1"
    port: int = Field(default=8021, ge=1, le=65535)
    app_listen: HostPort = "127.0.0.1:8084"
    max_calls: int = Field(default=2000, ge=1)
    connect_timeout: float = Field(default=5.0, gt=0)
    gc_sweep_interval: float = Field(default=300.0, ge=0)  # seconds; 0: the interpreter's own GC policy

    @model_validator(mode="after")
    def _one_source(self) -> EslSettings:
        if self.literal_password is None and (self.password_env is None) == (self.password_file is None):
            raise ValueError(
                "set exactly one of password_env (an environment variable name) or password_file "
                "(a file holding the ESL password)"
            )
        return self

    def password(self) -> str:  # type: ignore[override]  # always configured for ESL
        value = super().password()
        assert value is not None  # guaranteed by _one_source
        return value

    @property
    def listen_host(self) -> str:
        return parse_host_port(self.app_listen)[0]

    @property
    def listen_port(self) -> int:
        return parse_host_port(self.app_listen)[1]


class SentinelSettings(ConfigModel):
    addresses: tuple[HostPort, ...] = Field(min_length=1)
    service: str = "mymaster"
    db: int = Field(default=0, ge=0)


class RedisSettings(PasswordSource):
    url: str | None = None
    sentinel: SentinelSettings | None = None
    key_prefix: str = Field(default="esl", min_length=1, max_length=32)
    trace_ttl_days: int = Field(default=30, ge=1)
    spool_dir: str = "/var/spool/esl-apps"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"expected a redis://, rediss:// or unix:// URL, got {value!r}")
        if parts.password:
            raise ValueError(_LITERAL_SECRET.replace("in the YAML", "in the Redis URL"))
        return value

    @model_validator(mode="after")
    def _url_or_sentinel(self) -> RedisSettings:
        if self.url is not None and self.sentinel is not None:
            raise ValueError("set either url or sentinel, not both")
        if self.password_env is not None and self.password_file is not None:
            raise ValueError("set at most one of password_env or password_file")
        return self

    @property
    def effective_url(self) -> str:
        """The URL to use when Sentinel is not configured (the default is a local Redis)."""
        return self.url or "redis://127.0.0.1:6379/0"


class FeatureCodes(ConfigModel):
    login: DialCode = "*21"
    logout: DialCode = "*22"
    pause: DialCode = "*23"
    unpause: DialCode = "*24"


class DialplanSettings(ConfigModel):
    context: str = "public"
    internal_context: str = "default"
    app_host: str = "127.0.0.1"
    app_port: int = Field(default=8084, ge=1, le=65535)
    wrapup_extension: DigitString = "7140"
    feature_codes: FeatureCodes = FeatureCodes()
    sounds_dir: str | None = None
    sip_profile: str = "internal"


class RecordingPrompts(ConfigModel):
    notice: str | None = None
    opt_out: str | None = None
    opt_in: str | None = None
    stopped: str | None = None


PATH_FIELDS = frozenset({"date", "time", "uuid", "did", "caller", "flow"})


class RecordingSettings(ConfigModel):
    directory: str = "/var/lib/esl-apps/recordings"
    path_pattern: str = "{date}/{uuid}.wav"
    stereo: bool = True
    audit_file: str = "/var/lib/esl-apps/consent-audit.jsonl"
    default_policy: RecordingPolicy = "notify_only"
    opt_in_key: DtmfKey = "1"
    opt_out_key: DtmfKey = "9"
    prompts: RecordingPrompts = RecordingPrompts()

    @field_validator("path_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"bad path_pattern {value!r}: {exc}") from None
        unknown = names - PATH_FIELDS
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {', '.join(sorted(unknown))} in path_pattern; "
                f"available: {', '.join(sorted(PATH_FIELDS))}"
            )
        if "uuid" not in names:
            raise ValueError("path_pattern must contain {uuid} so two calls never share a file")
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError("path_pattern is relative to directory and may not contain '..'")
        return value

    @model_validator(mode="after")
    def _distinct_keys(self) -> RecordingSettings:
        if self.opt_in_key == self.opt_out_key:
            raise ValueError(f"opt_in_key and opt_out_key are both {self.opt_in_key!r}")
        return self


class VoicemailBox(ConfigModel):
    number: DigitString
    name: str = ""
    email: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError(f"expected an e-mail address, got {value!r}")
        return value


class VoicemailSettings(ConfigModel):
    profile: str = "default"
    domain: str | None = None  # None: the top-level `domain`
    boxes: dict[Identifier, VoicemailBox] = Field(default_factory=dict)


class CallbackSettings(ConfigModel):
    caller_id: PhoneNumber
    dial_template: str = "sofia/gateway/carrier/{number}"
    max_attempts: int = Field(default=3, ge=1, le=20)
    retry_backoff_seconds: tuple[int, ...] = (300, 900, 3600)
    schedule: Identifier | None = None
    confirm_number: bool = True

    @field_validator("dial_template")
    @classmethod
    def _template(cls, value: str) -> str:
        if "{number}" not in value:
            raise ValueError(f"dial_template must contain {{number}}, got {value!r}")
        return value

    @field_validator("retry_backoff_seconds")
    @classmethod
    def _backoff(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(v < 0 for v in value):
            raise ValueError("expected a non-empty list of seconds >= 0, e.g. [300, 900, 3600]")
        return value

    def backoff_for(self, attempt: int) -> int:
        """Seconds to wait before retry number ``attempt`` (1-based); the last value repeats."""
        return self.retry_backoff_seconds[min(attempt, len(self.retry_backoff_seconds)) - 1]
