"""The CDR variables FreeSWITCH adds at CHANNEL_HANGUP_COMPLETE (switch_channel_set_timestamps).

Names and order follow trace 01's CHANNEL_HANGUP_COMPLETE; stamps that never happened (no answer,
no bridge) are left out as FreeSWITCH does, their epochs are 0.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from esl_apps.sim import templates as T

if TYPE_CHECKING:
    from esl_apps.sim.channel import Channel


def _stamp(uepoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(uepoch / 1_000_000))


def _t(ch: Channel, name: str) -> int:
    try:
        return int(ch.profile.get(name) or 0)
    except ValueError:
        return 0


def hangup_complete_vars(ch: Channel, last_app: tuple[str, str] | None, now_u: int) -> list[tuple[str, str]]:
    start = ch.created_uepoch
    profile_start = _t(ch, "Profile-Created-Time") or start
    answer = _t(ch, "Channel-Answered-Time")
    progress = _t(ch, "Channel-Progress-Time")
    media = _t(ch, "Channel-Progress-Media-Time")
    bridged = _t(ch, "Channel-Bridged-Time")
    end = ch.hangup_uepoch or now_u
    cause = ch.hangup_cause or "NORMAL_CLEARING"
    out: list[tuple[str, str]] = [
        ("hangup_cause", cause), ("hangup_cause_q850", T.Q850.get(cause, "16")),
        ("digits_dialed", ch.digits_dialed or "none"),
        ("start_stamp", _stamp(start)), ("profile_start_stamp", _stamp(profile_start)),
    ]
    if answer:
        out.append(("answer_stamp", _stamp(answer)))
    if bridged:
        out.append(("bridge_stamp", _stamp(bridged)))
    if progress:
        out.append(("progress_stamp", _stamp(progress)))
    if media:
        out.append(("progress_media_stamp", _stamp(media)))
    out.append(("end_stamp", _stamp(end)))
    for name, value in (("start", start), ("profile_start", profile_start), ("answer", answer),
                        ("bridge", bridged), ("last_hold", 0)):
        out += [(f"{name}_epoch", str(value // 1_000_000)), (f"{name}_uepoch", str(value))]
    out += [("hold_accum_seconds", "0"), ("hold_accum_usec", "0"), ("hold_accum_ms", "0"),
            ("resurrect_epoch", "0"), ("resurrect_uepoch", "0")]
    for name, value in (("progress", progress), ("progress_media", media), ("end", end)):
        out += [(f"{name}_epoch", str(value // 1_000_000)), (f"{name}_uepoch", str(value))]
    if last_app:
        out += [("last_app", last_app[0]), ("last_arg", last_app[1])]
    name = ch.profile.get("Caller-ID-Name", "")
    number = ch.profile.get("Caller-ID-Number", "")
    out.append(("caller_id", f'"{name}" <{number}>'))

    def span(a: int, b: int) -> int:
        return max(0, b - a) if a and b else 0

    usec = {
        "duration": span(start, end), "bill": span(answer, end) if answer else 0,
        "progress": span(start, progress), "answer": span(start, answer),
        "wait": span(start, answer), "progress_media": span(start, media),
        "flow_bill": span(start, end),
    }
    out += [("duration", str(usec["duration"] // 1_000_000)), ("billsec", str(usec["bill"] // 1_000_000)),
            ("progresssec", str(usec["progress"] // 1_000_000)),
            ("answersec", str(usec["answer"] // 1_000_000)), ("waitsec", str(usec["wait"] // 1_000_000)),
            ("progress_mediasec", str(usec["progress_media"] // 1_000_000)),
            ("flow_billsec", str(usec["flow_bill"] // 1_000_000)),
            ("mduration", str(usec["duration"] // 1000)), ("billmsec", str(usec["bill"] // 1000)),
            ("progressmsec", str(usec["progress"] // 1000)), ("answermsec", str(usec["answer"] // 1000)),
            ("waitmsec", str(usec["wait"] // 1000)),
            ("progress_mediamsec", str(usec["progress_media"] // 1000)),
            ("flow_billmsec", str(usec["flow_bill"] // 1000)),
            ("uduration", str(usec["duration"])), ("billusec", str(usec["bill"])),
            ("progressusec", str(usec["progress"])), ("answerusec", str(usec["answer"])),
            ("waitusec", str(usec["wait"])), ("progress_mediausec", str(usec["progress_media"])),
            ("flow_billusec", str(usec["flow_bill"]))]
    if ch.media:
        packets = usec["bill"] // 20_000
        for stat in T.RTP_STATS_IN:
            value = "0.00" if stat in T.FLOAT_STATS else "0"
            if stat == "quality_percentage":
                value = "100.00"
            elif stat == "mos":
                value = "4.50"
            out.append((f"rtp_audio_in_{stat}", value))
        for stat in T.RTP_STATS_OUT:
            value = "0"
            if stat in ("raw_bytes", "media_bytes"):
                value = str(packets * 172)
            elif stat in ("packet_count", "media_packet_count"):
                value = str(packets)
            out.append((f"rtp_audio_out_{stat}", value))
        out += [("rtp_audio_rtcp_packet_count", "0"), ("rtp_audio_rtcp_octet_count", "0")]
    return out
