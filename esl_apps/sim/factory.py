"""Building channels the way mod_sofia and switch_ivr_originate create them.

Caller legs look like trace 01's connect reply (``sofia/external/<number>@127.0.0.1:5070``), agent
legs like the Other-Leg block of 03c and the agent connect reply of 04a; a transfer gives the
channel a new caller profile (Profile-Index + 1, Transfer-Source, RDNIS) and, for outbound legs,
flips the caller id (``channel_cid_flipped``), as switch_ivr_session_transfer does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from esl_apps.sim import templates as T
from esl_apps.sim.channel import Channel
from esl_apps.sim.dialstring import Leg

if TYPE_CHECKING:
    from esl_apps.sim.emulator import Emulator

_BASE_PROFILE = {
    "Dialplan": "XML", "Network-Addr": "127.0.0.1", "Source": "mod_sofia", "Profile-Index": "1",
    "Channel-Answered-Time": "0", "Channel-Progress-Time": "0", "Channel-Progress-Media-Time": "0",
    "Channel-Hangup-Time": "0", "Channel-Transfer-Time": "0", "Channel-Resurrect-Time": "0",
    "Channel-Bridged-Time": "0", "Channel-Last-Hold": "0", "Channel-Hold-Accum": "0",
    "Screen-Bit": "true", "Privacy-Hide-Name": "false", "Privacy-Hide-Number": "false",
}


def _new(emu: Emulator, uuid: str, name: str, direction: str, profile: dict[str, str]) -> Channel:
    return Channel(uuid=uuid, name=name, direction=direction, profile=profile, publish=emu.publish,
                   now_uepoch=emu.clock.uepoch, core_uuid=emu.core_uuid, next_sequence=emu.next_sequence)


def caller_channel(emu: Emulator, uuid: str, destination: str, context: str, number: str, name: str,
                   variables: dict[str, str] | None) -> Channel:
    channel_name = f"sofia/external/{number}@127.0.0.1:5070"
    now = str(emu.clock.uepoch())
    profile = {
        **_BASE_PROFILE, "Direction": "inbound", "Logical-Direction": "inbound", "Username": number,
        "Caller-ID-Name": name, "Caller-ID-Number": number, "Orig-Caller-ID-Name": name,
        "Orig-Caller-ID-Number": number, "ANI": number, "Destination-Number": destination,
        "Unique-ID": uuid, "Context": context, "Channel-Name": channel_name,
        "Profile-Created-Time": now, "Channel-Created-Time": now,
    }
    ch = _new(emu, uuid, channel_name, "inbound", profile)
    seq = str(emu.rng.randint(10000, 99999))
    params = {"uuid": uuid, "session_id": str(emu.next_session_id()), "caller_number": number,
              "caller_name": name, "destination": destination, "channel_name": channel_name,
              "created_uepoch": now, "call_id": f"1-{seq}@127.0.0.1", "from_tag": f"{seq}SIPpTag001",
              "seq": seq}
    ch.set_vars(T.inbound_sofia_vars(params))
    for key, value in (variables or {}).items():
        ch.set_var(key, value)
    return ch


def agent_channel(emu: Emulator, leg: Leg, uuid: str, originator: Channel | None,
                  exports: dict[str, str | None]) -> Channel:
    endpoint = leg.endpoint
    user = leg.user
    if endpoint.startswith("user/"):
        domain = endpoint.split("@", 1)[1] if "@" in endpoint else "127.0.0.1"
        channel_name, host = f"sofia/internal/{user}@{domain}", domain
    elif endpoint.startswith("sofia/"):
        channel_name = endpoint
        host = endpoint.split("@", 1)[1] if "@" in endpoint else "127.0.0.1"
    else:
        channel_name, host = endpoint, "127.0.0.1"
    vars_in = leg.variables
    if originator is not None:
        cid_name = vars_in.get("origination_caller_id_name") or originator.profile.get("Caller-ID-Name", "")
        cid_number = (vars_in.get("origination_caller_id_number")
                      or originator.profile.get("Caller-ID-Number", ""))
        context = originator.profile.get("Context", "default")
    else:
        cid_name = vars_in.get("origination_caller_id_name", "FreeSWITCH")
        cid_number = vars_in.get("origination_caller_id_number", "0000000000")
        context = "default"
    now = str(emu.clock.uepoch())
    profile = {
        **_BASE_PROFILE, "Direction": "outbound", "Logical-Direction": "inbound", "Username": cid_number,
        "Caller-ID-Name": cid_name, "Caller-ID-Number": cid_number, "Orig-Caller-ID-Name": cid_name,
        "Orig-Caller-ID-Number": cid_number, "Callee-ID-Name": "Outbound Call", "Callee-ID-Number": user,
        "ANI": cid_number, "Destination-Number": user, "Unique-ID": uuid, "Context": context,
        "Channel-Name": channel_name, "Profile-Created-Time": now, "Channel-Created-Time": now,
    }
    ch = _new(emu, uuid, channel_name, "outbound", profile)
    seq = str(emu.rng.randint(1_000_000_000, 1_999_999_999))
    params = {"uuid": uuid, "session_id": str(emu.next_session_id()), "channel_name": channel_name,
              "dest_user": user, "dest_host": host, "originator": originator.uuid if originator else "",
              "endpoint_type": endpoint.split("/", 1)[0], "seq": seq, "caller_name": cid_name,
              "caller_number": cid_number, "from_tag": f"S{seq[:12]}", "to_tag": f"{seq[-5:]}SIPpTag011",
              "call_id": emu.new_uuid(), "media_port": str(emu.rng.randint(16384, 32767))}
    ch.set_vars(T.outbound_sofia_vars(params))
    for key, value in exports.items():
        ch.set_var(key, value)
    for key, value in vars_in.items():
        ch.set_var(key, value)
    ch.set_var("call_uuid", uuid)
    return ch


def apply_transfer(emu: Emulator, ch: Channel, extension: str, context: str, kind: str = "bl_xfer") -> None:
    """New caller profile for ``extension``@``context``; transfer_history gets one more entry."""
    epoch = int(emu.clock.now())
    entry = f"{epoch}:{emu.new_uuid()}:{kind}:{extension}/{context}/XML"
    history = ch.vars.get("transfer_history")
    if history:
        items = history[7:].split("|:") if history.startswith("ARRAY::") else [history]
        ch.set_var("transfer_history", "ARRAY::" + "|:".join([*items, entry]))
    else:
        ch.set_var("transfer_history", entry)
    ch.set_var("transfer_source", entry)
    profile = ch.profile
    old_destination = profile.get("Destination-Number", "")
    if ch.direction == "outbound":
        ch.set_vars([("pre_transfer_caller_id_name", profile.get("Caller-ID-Name", "")),
                     ("pre_transfer_caller_id_number", profile.get("Caller-ID-Number", "")),
                     ("channel_cid_flipped", "yes")])
        caller = (profile.get("Caller-ID-Name", ""), profile.get("Caller-ID-Number", ""))
        profile["Caller-ID-Name"] = profile.get("Callee-ID-Name", caller[0])
        profile["Caller-ID-Number"] = profile.get("Callee-ID-Number", caller[1])
        profile["Callee-ID-Name"], profile["Callee-ID-Number"] = caller
        profile["Logical-Direction"] = "outbound"
    profile["Destination-Number"] = extension
    profile["Context"] = context
    profile["Transfer-Source"] = entry
    profile["RDNIS"] = old_destination
    profile["Profile-Index"] = str(int(profile.get("Profile-Index", "1")) + 1)
    profile["Profile-Created-Time"] = str(emu.clock.uepoch())
    profile["Channel-Bridged-Time"] = "0"
    ch.other_profile = ch.other_type = None  # a new caller profile has no originator/originatee
    profile["Channel-Progress-Media-Time"] = "0"
    ch.hit_dialplan = True


def loopback_channel(emu: Emulator, uuid: str, extension: str, context: str, side: str,
                     variables: dict[str, str]) -> Channel:
    """``loopback/<ext>-a`` (outbound, runs the originate's application) or ``-b`` (inbound, runs
    the extension), as trace 07 shows them."""
    name = f"loopback/{extension}-{side}"
    direction = "outbound" if side == "a" else "inbound"
    now = str(emu.clock.uepoch())
    cid_name = variables.get("origination_caller_id_name", "")
    cid_number = variables.get("origination_caller_id_number", "0000000000")
    profile = {
        **_BASE_PROFILE, "Direction": direction, "Logical-Direction": direction, "Username": "",
        "Caller-ID-Name": cid_name, "Caller-ID-Number": cid_number, "Orig-Caller-ID-Name": cid_name,
        "Orig-Caller-ID-Number": cid_number, "ANI": cid_number, "Destination-Number": extension,
        "Unique-ID": uuid, "Source": "mod_loopback", "Context": context, "Channel-Name": name,
        "Profile-Created-Time": now, "Channel-Created-Time": now,
    }
    ch = _new(emu, uuid, name, direction, profile)
    ch.hit_dialplan = True
    ch.set_vars([("direction", direction), ("uuid", uuid), ("session_id", str(emu.next_session_id())),
                 ("channel_name", name), ("call_uuid", uuid), *variables.items()])
    return ch
