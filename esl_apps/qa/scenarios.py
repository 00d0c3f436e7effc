"""The load-test variants: which caller CSV, which DID and which agent behaviour make each call flow.

A variant only combines files under scripts/sipp; the XML scenarios are the same for all of them.
DIDs and keys follow the example configuration (conf/pbx.yaml, ivr_flows/main.yaml and
support.yaml); a site with other flows passes its own ``--csv`` and ``--did``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_REPO_ROOT = _PACKAGE_DIR.parent

CALLER_XML = "caller_uac.xml"
AGENT_XML = "agent_uas.xml"
SWITCH_XML = "switch_dials_agent.xml"
MAIN_DID = "+442071234567"
SUPPORT_DID = "+442071234568"
DEFAULT_AUDIO_PCAP = Path("/usr/share/sip-tester/g711a.pcap")
# Agents key "sale closed, purchase intent, positive" (conf/dispositions.yaml, capture mode multi),
# wait three seconds for the read-back, then confirm with 1.
DEFAULT_DISPOSITION = "23*40*50#,,,1"


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    caller_csv: str
    did: str
    agent_mode: str
    disposition: str | None


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("caller", "plain IVR path: menu choice, an agent answers, talk, caller hangs up",
            "callers_ivr.csv", MAIN_DID, "answer", DEFAULT_DISPOSITION),
    Variant("consent-accept", "opt-in line: caller presses 1 to allow recording, fault report, queue",
            "callers_consent_accept.csv", SUPPORT_DID, "answer", DEFAULT_DISPOSITION),
    Variant("consent-decline", "opt-out line: caller presses 9 to stop recording, then sales",
            "callers_consent_decline.csv", MAIN_DID, "answer", DEFAULT_DISPOSITION),
    Variant("overflow", "no agent answers: the ring group overflows to voicemail, caller leaves a message",
            "callers_overflow.csv", MAIN_DID, "noanswer", None),
    Variant("callback", "caller asks for a call back and confirms; the switch hangs up",
            "callers_callback.csv", MAIN_DID, "answer", None),
    Variant("payment", "card payment with PCI masking: card number, expiry, security code, billing",
            "callers_payment.csv", MAIN_DID, "answer", DEFAULT_DISPOSITION),
)}


def sipp_dir() -> Path:
    """scripts/sipp of a checkout, or the copy a wheel carries (``ESL_APPS_SIPP_DIR`` overrides)."""
    override = os.environ.get("ESL_APPS_SIPP_DIR")
    if override:
        if not (Path(override) / CALLER_XML).is_file():
            raise FileNotFoundError(f"ESL_APPS_SIPP_DIR={override} holds no {CALLER_XML}")
        return Path(override)
    for candidate in (_PACKAGE_DIR / "_data" / "sipp", _REPO_ROOT / "scripts" / "sipp"):
        if (candidate / CALLER_XML).is_file():
            return candidate
    raise FileNotFoundError("the SIPp scenarios (scripts/sipp) are missing from this installation; "
                            "set ESL_APPS_SIPP_DIR to a copy")


def scenario_file(name: str, directory: Path | None = None) -> Path:
    path = (directory or sipp_dir()) / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    return path
