"""What the generated dialplan promises the running application, in one place.

The dialplan and the application are two halves of one call path: FreeSWITCH runs the XML, sets
channel variables, then hands the call to esl-apps over the outbound ``socket``; esl-apps reads
those variables from the ``connect`` reply (``variable_<name>``). Both halves import the names
from here so they cannot drift apart. The same goes for the wrap-up transfer target: the ring
group engine must put exactly ``transfer_after_bridge=<wrapup_extension>:XML:<context>`` on the
agent leg, and the wrap-up extension must live in that context (traces 04a/04e).
"""

from __future__ import annotations

from typing import Final, Literal

from esl_apps.config.settings import DialplanSettings

__all__ = [
    "ENTRY_KINDS",
    "VAR_AGENT",
    "VAR_DID",
    "VAR_ENTRY",
    "VAR_FALLBACK",
    "VAR_FEATURE",
    "VAR_FEATURE_ARG",
    "VAR_FLOW",
    "VAR_GROUP",
    "VAR_RECORDING_POLICY",
    "EntryKind",
    "socket_data",
    "wrapup_context",
    "wrapup_transfer_target",
]

EntryKind = Literal["did", "group", "feature", "wrapup"]
ENTRY_KINDS: Final[tuple[EntryKind, ...]] = ("did", "group", "feature", "wrapup")

VAR_ENTRY: Final = "esl_apps_entry"
"""How the call entered esl-apps: ``did``, ``group``, ``feature`` or ``wrapup``."""
VAR_DID: Final = "esl_apps_did"
"""The DID exactly as configured in pbx.yaml ``dids[].number`` (e.g. ``+442071234567``)."""
VAR_FLOW: Final = "esl_apps_flow"
"""The IVR flow to run (``dids[].flow``)."""
VAR_RECORDING_POLICY: Final = "esl_apps_recording_policy"
"""The DID's effective recording policy (``notify_only``/``opt_out``/``opt_in``/``never``)."""
VAR_GROUP: Final = "esl_apps_group"
"""The ring group id dialled on its internal extension."""
VAR_FEATURE: Final = "esl_apps_feature"
"""``login``, ``logout``, ``pause`` or ``unpause``: which agent feature code was dialled."""
VAR_FEATURE_ARG: Final = "esl_apps_feature_arg"
"""Digits keyed after the feature code (the pause reason for ``*23<reason>``); unset when none."""
VAR_AGENT: Final = "esl_apps_agent"
"""The agent id whose extension was dialled (set on direct agent calls, for CDRs)."""
VAR_FALLBACK: Final = "esl_apps_fallback"
"""Set to ``true`` when the static fallback ran, so CDRs show calls esl-apps never handled."""


def socket_data(settings: DialplanSettings) -> str:
    """Data of the ``socket`` action: always ``async full`` (the app drives the call with sendmsg
    and needs every event and api command); see traces 01 and 06."""
    return f"{settings.app_host}:{settings.app_port} async full"


def wrapup_context(settings: DialplanSettings) -> str:
    """The wrap-up extension lives in the internal context: callers arriving on the public context
    must not be able to dial into an agent's disposition prompt."""
    return settings.internal_context


def wrapup_transfer_target(settings: DialplanSettings) -> str:
    """Value for ``transfer_after_bridge`` on an agent leg: ``<ext>:XML:<context>``.

    This is the mechanism the traces show working (04a, 04e); ``hangup_after_bridge=false`` does
    not keep the agent leg (04d).
    """
    return f"{settings.wrapup_extension}:XML:{wrapup_context(settings)}"
