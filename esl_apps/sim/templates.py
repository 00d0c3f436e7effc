"""Header and variable templates copied from the recorded FreeSWITCH 1.11 conversations.

The names, their order and the constant values come from ../shared/esl-traces (trace 01 for a
caller's sofia leg, 03c/04a for an agent leg). Only what differs per call (uuids, numbers, times,
tags, ports) is filled in by :mod:`esl_apps.sim.channel`. Keeping the data here, apart from the
behaviour, makes it easy to re-check against a new trace.
"""

from __future__ import annotations

HOSTNAME = "fs-lab"
HOST_IP = "192.0.2.10"
SIP_PROFILE = "external"
PROFILE_ADDR = "127.0.0.1:5080"
GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

# (Event-Calling-File, Event-Calling-Function, Event-Calling-Line-Number) per event name.
CALLING: dict[str, tuple[str, str, str]] = {
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", "2029"),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", "626"),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", "2949"),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", "2972"),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "3331"),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered", "3562"),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3848"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3447"),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", "943"),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", "1726"),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", "2409"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "1002"),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", "1213"),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1689"),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1879"),
    "CHANNEL_ORIGINATE": ("switch_core_session.c", "switch_core_session_outgoing_channel", "754"),
    "CHANNEL_OUTGOING": ("switch_core_session.c", "switch_core_session_outgoing_channel", "753"),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", "678"),
    "RECORD_START": ("switch_ivr_async.c", "record_callback", "1482"),
    "RECORD_STOP": ("switch_ivr_async.c", "send_record_stop_event", "1241"),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", "1540"),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", "2056"),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", "1580"),
    "CUSTOM": ("mod_voicemail.c", "deliver_vm", "2896"),
}
# Voicemail records with switch_ivr_record_file, which reports from a different place.
CALLING_VM_RECORD = {
    "RECORD_START": ("switch_ivr_play_say.c", "switch_ivr_record_file_event", "770"),
    "RECORD_STOP": ("switch_ivr_play_say.c", "switch_ivr_record_file_event", "1033"),
}
CALLING_UUID_BRIDGE_EXECUTE = ("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", "1236")

STATE_NUMBERS = {
    "CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
    "CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8, "CS_RESET": 9,
    "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12,
}

# Caller-profile fields in FreeSWITCH's order; rendered with the prefix "Caller-", "Channel-"
# (connect reply) or "Other-Leg-". Optional ones are left out when the channel has no value.
PROFILE_FIELDS = (
    "Direction", "Logical-Direction", "Username", "Dialplan", "Caller-ID-Name", "Caller-ID-Number",
    "Orig-Caller-ID-Name", "Orig-Caller-ID-Number", "Callee-ID-Name", "Callee-ID-Number",
    "Network-Addr", "ANI", "Destination-Number", "Unique-ID", "Source", "Transfer-Source", "Context",
    "RDNIS", "Channel-Name", "Profile-Index", "Profile-Created-Time", "Channel-Created-Time",
    "Channel-Answered-Time", "Channel-Progress-Time", "Channel-Progress-Media-Time",
    "Channel-Hangup-Time", "Channel-Transfer-Time", "Channel-Resurrect-Time", "Channel-Bridged-Time",
    "Channel-Last-Hold", "Channel-Hold-Accum", "Screen-Bit", "Privacy-Hide-Name", "Privacy-Hide-Number",
)
OPTIONAL_PROFILE_FIELDS = frozenset({"Callee-ID-Name", "Callee-ID-Number", "Transfer-Source", "RDNIS"})
# Other-Leg-* blocks omit the profile index (see the CHANNEL_BRIDGE events of trace 03c).
OTHER_LEG_SKIP = frozenset({"Profile-Index"})

CODEC_HEADERS = (
    ("Channel-Read-Codec-Name", "PCMU"), ("Channel-Read-Codec-Rate", "8000"),
    ("Channel-Read-Codec-Bit-Rate", "64000"), ("Channel-Write-Codec-Name", "PCMU"),
    ("Channel-Write-Codec-Rate", "8000"), ("Channel-Write-Codec-Bit-Rate", "64000"),
)

SDP_REMOTE = (
    "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
)
SDP_LOCAL = (
    "v=0\r\no=FreeSWITCH {sess} {ver} IN IP4 127.0.0.1\r\ns=FreeSWITCH\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
)


def inbound_sofia_vars(p: dict[str, str]) -> list[tuple[str, str]]:
    """Variables of a caller's leg as mod_sofia creates it (trace 01, before the dialplan runs)."""
    num, dest, tag, cid = p["caller_number"], p["destination"], p["from_tag"], p["call_id"]
    return [
        ("direction", "inbound"), ("uuid", p["uuid"]), ("session_id", p["session_id"]),
        ("sip_from_user", num), ("sip_from_port", "5070"), ("sip_from_uri", f"{num}@127.0.0.1:5070"),
        ("sip_from_host", "127.0.0.1"), ("video_media_flow", "disabled"),
        ("audio_media_flow", "disabled"), ("text_media_flow", "disabled"),
        ("channel_name", p["channel_name"]), ("sip_call_id", cid),
        ("sip_local_network_addr", "127.0.0.1"), ("sip_network_ip", "127.0.0.1"),
        ("sip_network_port", "5070"), ("sip_invite_stamp", p["created_uepoch"]),
        ("sip_received_ip", "127.0.0.1"), ("sip_received_port", "5070"), ("sip_via_protocol", "udp"),
        ("sip_from_user_stripped", num), ("sip_from_tag", tag), ("sofia_profile_name", SIP_PROFILE),
        ("sofia_profile_url", f"sip:mod_sofia@{PROFILE_ADDR}"), ("recovery_profile_name", SIP_PROFILE),
        ("sip_full_via", f"SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-{p['seq']}-1-0"),
        ("sip_from_display", p["caller_name"]),
        ("sip_full_from", f'"{p["caller_name"]}" <sip:{num}@127.0.0.1:5070>;tag={tag}'),
        ("sip_full_to", f"<sip:{dest}@{PROFILE_ADDR}>"), ("sip_req_user", dest), ("sip_req_port", "5080"),
        ("sip_req_uri", f"{dest}@{PROFILE_ADDR}"), ("sip_req_host", "127.0.0.1"), ("sip_to_user", dest),
        ("sip_to_port", "5080"), ("sip_to_uri", f"{dest}@{PROFILE_ADDR}"), ("sip_to_host", "127.0.0.1"),
        ("sip_contact_user", num), ("sip_contact_port", "5070"),
        ("sip_contact_uri", f"{num}@127.0.0.1:5070"), ("sip_contact_host", "127.0.0.1"),
        ("rtp_use_codec_string", "OPUS,G722,PCMU,PCMA"), ("sip_user_agent", "esl-apps-emulator"),
        ("sip_via_host", "127.0.0.1"), ("sip_via_port", "5070"), ("max_forwards", "70"),
        ("switch_r_sdp", SDP_REMOTE.format(port="6000")),
        ("ep_codec_string", "CORE_PCM_MODULE.PCMU@8000h@20i@64000b"),
        ("endpoint_disposition", "DELAYED NEGOTIATION"), ("call_uuid", p["uuid"]),
    ]


def outbound_sofia_vars(p: dict[str, str]) -> list[tuple[str, str]]:
    """Variables of an agent leg that FreeSWITCH originated (trace 04a's agent connect reply)."""
    user, host = p["dest_user"], p["dest_host"]
    return [
        ("direction", "outbound"), ("is_outbound", "true"), ("uuid", p["uuid"]),
        ("session_id", p["session_id"]), ("sip_profile_name", SIP_PROFILE),
        ("text_media_flow", "disabled"), ("channel_name", p["channel_name"]),
        ("sip_destination_url", f"sip:{user}@{host}"), ("originator_codec", "PCMU@8000h@20i"),
        ("originator", p["originator"]), ("switch_m_sdp", SDP_REMOTE.format(port="6000")),
        ("originate_early_media", "true"), ("originating_leg_uuid", p["originator"]),
        ("originate_endpoint", p["endpoint_type"]), ("audio_media_flow", "sendrecv"),
        ("video_media_flow", "inactive"),
        ("rtp_local_sdp_str", SDP_LOCAL.format(sess=p["seq"], ver=p["seq"], port=p["media_port"])),
        ("sip_outgoing_contact_uri", f"<sip:mod_sofia@{PROFILE_ADDR}>"),
        ("sip_req_uri", f"{user}@{host}"), ("sofia_profile_name", SIP_PROFILE),
        ("recovery_profile_name", SIP_PROFILE), ("sofia_profile_url", f"sip:mod_sofia@{PROFILE_ADDR}"),
        ("sip_local_network_addr", "127.0.0.1"), ("sip_network_ip", "127.0.0.1"),
        ("sip_from_display", p["caller_name"]),
        ("sip_full_from", f'"{p["caller_name"]}" <sip:{p["caller_number"]}@127.0.0.1>;tag={p["from_tag"]}'),
        ("sip_full_to", f"<sip:{user}@{host}>;tag={p['to_tag']}"),
        ("sip_from_user", p["caller_number"]), ("sip_from_uri", f"{p['caller_number']}@127.0.0.1"),
        ("sip_from_host", "127.0.0.1"), ("sip_to_user", user), ("sip_to_uri", f"{user}@{host}"),
        ("sip_to_host", host.split(":")[0]), ("sip_to_tag", p["to_tag"]), ("sip_from_tag", p["from_tag"]),
        ("sip_cseq", "1"), ("sip_call_id", p["call_id"]),
        ("switch_r_sdp", SDP_REMOTE.format(port="6100")),
        ("ep_codec_string", "CORE_PCM_MODULE.PCMU@8000h@20i@64000b"),
        ("rtp_use_codec_string", "PCMU@8000h@20i"),
    ]


def media_vars(p: dict[str, str]) -> list[tuple[str, str]]:
    """Set when media is negotiated (CHANNEL_PROGRESS_MEDIA of trace 01)."""
    return [
        ("remote_video_media_flow", "inactive"), ("remote_text_media_flow", "inactive"),
        ("remote_audio_media_flow", "sendrecv"), ("audio_media_flow", "sendrecv"),
        ("rtp_audio_recv_pt", "0"), ("rtp_use_codec_name", "PCMU"), ("rtp_use_codec_rate", "8000"),
        ("rtp_use_codec_ptime", "20"), ("rtp_use_codec_channels", "1"),
        ("rtp_last_audio_codec_string", "PCMU@8000h@20i@1c"), ("read_codec", "PCMU"),
        ("original_read_codec", "PCMU"), ("read_rate", "8000"), ("original_read_rate", "8000"),
        ("write_codec", "PCMU"), ("write_rate", "8000"), ("dtmf_type", "rfc2833"),
        ("local_media_ip", "127.0.0.1"), ("local_media_port", p["media_port"]),
        ("advertised_media_ip", "127.0.0.1"), ("rtp_use_timer_name", "soft"), ("rtp_use_pt", "0"),
        ("rtp_use_ssrc", p["ssrc"]), ("rtp_2833_send_payload", "101"), ("rtp_2833_recv_payload", "101"),
        ("remote_media_ip", "127.0.0.1"), ("remote_media_port", p["remote_media_port"]),
    ]


RTP_STATS_IN = (
    "raw_bytes", "media_bytes", "packet_count", "media_packet_count", "skip_packet_count",
    "jitter_packet_count", "dtmf_packet_count", "cng_packet_count", "flush_packet_count",
    "largest_jb_size", "jitter_min_variance", "jitter_max_variance", "jitter_loss_rate",
    "jitter_burst_rate", "mean_interval", "flaw_total", "quality_percentage", "mos",
)
RTP_STATS_OUT = (
    "raw_bytes", "media_bytes", "packet_count", "media_packet_count", "skip_packet_count",
    "dtmf_packet_count", "cng_packet_count",
)
FLOAT_STATS = {"jitter_min_variance", "jitter_max_variance", "jitter_loss_rate", "jitter_burst_rate",
               "mean_interval"}

# Q.850 codes FreeSWITCH reports in hangup_cause_q850.
Q850 = {
    "NORMAL_CLEARING": "16", "USER_BUSY": "17", "NO_USER_RESPONSE": "18", "NO_ANSWER": "19",
    "SUBSCRIBER_ABSENT": "20", "CALL_REJECTED": "21", "UNALLOCATED_NUMBER": "1",
    "NO_ROUTE_DESTINATION": "3", "DESTINATION_OUT_OF_ORDER": "27", "NORMAL_UNSPECIFIED": "31",
    "ALLOTTED_TIMEOUT": "602", "ORIGINATOR_CANCEL": "487", "LOSE_RACE": "502",
    "USER_NOT_REGISTERED": "606", "MANAGER_REQUEST": "503", "NORMAL_TEMPORARY_FAILURE": "41",
}
# SIP status a sofia leg reports for a failure cause (variable_last_bridge_proto_specific_hangup_cause).
SIP_STATUS = {"USER_BUSY": "486", "CALL_REJECTED": "603", "NORMAL_CLEARING": "200"}
# originate_disposition -> DIALSTATUS (switch_ivr_originate.c); any other cause is copied as it is.
DIALSTATUS = {
    "SUCCESS": "SUCCESS", "USER_BUSY": "BUSY", "NO_ANSWER": "NOANSWER", "ORIGINATOR_CANCEL": "CANCEL",
    "CALL_REJECTED": "DONTCALL", "DESTINATION_OUT_OF_ORDER": "INVALIDARGS", "INVALID_PROFILE": "INVALIDARGS",
}
