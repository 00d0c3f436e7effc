"""The records a call leaves when it leaves a ring group: one ``interactions`` record per group the
call was offered to, and a system disposition for every outcome no agent will key a code for.

Field meanings are the contract with the reports (notes RECORDS.md): times are epoch ms,
``outcome`` is one of answered, abandoned, overflow, voicemail, callback, no_answer, busy, failed.
A call sent from group A to group B writes two interactions: A's with ``outcome: overflow`` and
``overflow_to: group:B``, and B's with the final outcome; only the final one gets a system code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from esl_apps.config.dispositions import Codebook
from esl_apps.features.recording_audit import RecordSink

Outcome = Literal["answered", "abandoned", "overflow", "voicemail", "callback", "no_answer", "busy", "failed"]

# interaction outcome -> dispositions.yaml system_codes field
SYSTEM_CODE_FOR: dict[str, str] = {
    "no_answer": "no_answer",
    "busy": "busy",
    "abandoned": "abandoned",
    "voicemail": "voicemail",
    "callback": "callback_requested",
}


@dataclass(slots=True)
class Interaction:
    call_uuid: str
    group: str
    queue: str | None
    did: str
    caller: str
    offered_at: int
    answered_at: int | None = None
    ended_at: int | None = None
    agent: str | None = None
    outcome: Outcome = "failed"
    overflow_to: str | None = None
    talk_s: float | None = None
    hold_s: float = 0.0
    queue_position: int | None = None
    agents_rung: list[str] = field(default_factory=list)
    cause: str = ""

    def record(self) -> dict[str, Any]:
        return {
            "call_uuid": self.call_uuid,
            "group": self.group,
            "queue": self.queue,
            "did": self.did,
            "caller": self.caller,
            "offered_at": self.offered_at,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
            "agent": self.agent,
            "outcome": self.outcome,
            "overflow_to": self.overflow_to,
            "talk_s": self.talk_s if self.outcome == "answered" else None,
            "hold_s": self.hold_s,
            "queue_position": self.queue_position,
            "agents_rung": list(dict.fromkeys(self.agents_rung)),
            "cause": self.cause,
        }


def system_disposition(
    interaction: Interaction, codebook: Codebook | None, now_ms: int
) -> dict[str, Any] | None:
    """The ``dispositions`` record for an outcome without an agent, or None (answered, overflow,
    failed, or no code configured for it)."""
    field_name = SYSTEM_CODE_FOR.get(interaction.outcome)
    if field_name is None or codebook is None:
        return None
    code = getattr(codebook.system_codes, field_name)
    if code is None:
        return None
    known = codebook.lookup(code)
    return {
        "call_uuid": interaction.call_uuid,
        "agent": None,
        "group": interaction.group,
        "codes": [code],
        "categories": {known.category: code} if known is not None else {},
        "source": "system",
        "flagged": False,
        "wrapup_s": 0.0,
        "captured_at": now_ms,
        "system_outcome": interaction.outcome,
    }


async def write_interaction(
    records: RecordSink, interaction: Interaction, codebook: Codebook | None, now_ms: int
) -> None:
    """Both records; ``RecordLog.append`` never raises because of Redis (it spools to disk)."""
    if interaction.ended_at is None:
        interaction.ended_at = now_ms
    await records.append("interactions", interaction.record())
    disposition = system_disposition(interaction, codebook, now_ms)
    if disposition is not None:
        await records.append("dispositions", disposition)
