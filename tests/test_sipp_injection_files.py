"""The CSV injection files: the shipped variants are valid, and a bad row is named by file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from esl_apps.qa.callers import (
    CALLER_FIELDS,
    AgentBehaviour,
    CallerScript,
    DtmfStep,
    InjectionFileError,
    play_dtmf_ms,
    read_agent_csv,
    read_caller_csv,
    write_agent_csv,
    write_caller_csv,
)
from esl_apps.qa.scenarios import MAIN_DID, SUPPORT_DID, VARIANTS, sipp_dir

SIPP_DIR = Path(__file__).resolve().parent.parent / "scripts" / "sipp"


def test_sipp_dir_is_the_checkout_unless_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sipp_dir() == SIPP_DIR
    monkeypatch.setenv("ESL_APPS_SIPP_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"holds no caller_uac\.xml"):
        sipp_dir()
    (tmp_path / "caller_uac.xml").write_text("<scenario/>")
    assert sipp_dir() == tmp_path


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_file_reads(name: str) -> None:
    variant = VARIANTS[name]
    order, scripts = read_caller_csv(SIPP_DIR / variant.caller_csv)
    assert order == "SEQUENTIAL" and scripts
    for script in scripts:
        assert script.caller.startswith("+44")
        assert script.steps, "every variant keys something"
        for step in script.steps:
            assert step.keys_ms >= play_dtmf_ms(step.keys) - 300


def test_variants_key_what_the_example_flows_expect() -> None:
    keys = {name: read_caller_csv(SIPP_DIR / v.caller_csv)[1][0] for name, v in VARIANTS.items()}
    assert VARIANTS["consent-accept"].did == SUPPORT_DID and keys["consent-accept"].steps[0].keys == "1"
    assert VARIANTS["consent-decline"].did == MAIN_DID and keys["consent-decline"].steps[0].keys == "9"
    assert VARIANTS["callback"].did == MAIN_DID and keys["callback"].keys == "41"
    assert keys["callback"].waits_far_end, "FreeSWITCH hangs up after the callback confirmation"
    assert VARIANTS["overflow"].agent_mode == "noanswer" and keys["overflow"].talk_ms > 90_000
    assert "4111111111111111#" in [s.keys for s in keys["payment"].steps]


def test_agent_files_read() -> None:
    for path in sorted(SIPP_DIR.glob("agents_*.csv")):
        _, agents = read_agent_csv(path)
        assert agents
    _, mixed = read_agent_csv(SIPP_DIR / "agents_mixed.csv")
    assert {a.mode for a in mixed} == {"answer", "busy", "noanswer"}


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "x.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def caller_row(**overrides: str) -> str:
    cells = ["+447700900001", "500", "1", "1100"] + [""] * (CALLER_FIELDS - 5) + ["1000"]
    for index, value in overrides.items():
        cells[int(index[1:])] = value
    return ";".join(cells)


@pytest.mark.parametrize(("row", "message"), [
    (caller_row(f2="1x"), r"x\.csv:4: keys1 '1x'"),
    (caller_row(f1="soon"), r"x\.csv:4: wait1_ms must be a whole number"),
    (caller_row(f19="-5"), r"x\.csv:4: talk_ms cannot be negative"),
    (caller_row(f3="500", f2="1234"), r"x\.csv:4: keys1_ms 500 is shorter than SIPp needs"),
    (caller_row(f2="", f5="1", f4="100", f6="1100"), r"x\.csv:4: keys2 follows an empty step"),
    ("+4477;1;2", r"x\.csv:4: 3 fields, the caller scenario needs 20"),
    (caller_row(f0=""), r"x\.csv:4: caller '' is not a SIP user"),
])
def test_bad_caller_rows_name_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path, "SEQUENTIAL", "# comment", "", row)
    with pytest.raises(InjectionFileError, match=message):
        read_caller_csv(path)


def test_first_line_must_say_the_order(tmp_path: Path) -> None:
    with pytest.raises(InjectionFileError, match=r"x\.csv:1: the first line must be SEQUENTIAL"):
        read_caller_csv(write(tmp_path, caller_row()))
    with pytest.raises(InjectionFileError, match="no data lines"):
        read_caller_csv(write(tmp_path, "RANDOM", "# nothing"))


def test_bad_agent_rows(tmp_path: Path) -> None:
    with pytest.raises(InjectionFileError, match=r"x\.csv:2: mode 'sleep'"):
        read_agent_csv(write(tmp_path, "SEQUENTIAL", "sleep;0;0;0;0"))
    with pytest.raises(InjectionFileError, match=r"x\.csv:2: 2 fields"):
        read_agent_csv(write(tmp_path, "SEQUENTIAL", "answer;0"))


def test_scaling_shrinks_waits_not_key_times() -> None:
    script = CallerScript("+1", (DtmfStep(10_000, "1234"), DtmfStep(4000, "#", 2000)), 20_000)
    small = script.scaled(0.1)
    assert [s.wait_ms for s in small.steps] == [1000, 400]
    assert [s.play_ms for s in small.steps] == [play_dtmf_ms("1234"), 2000]
    assert small.talk_ms == 2000
    assert CallerScript("+1", (DtmfStep(100, "1"),), 0).scaled(0.1).talk_ms == 0, "0 keeps waiting for BYE"


def test_written_files_read_back(tmp_path: Path) -> None:
    scripts = [CallerScript("+447700900009", (DtmfStep(300, "9"), DtmfStep(200, "12#")), 0)]
    write_caller_csv(tmp_path / "c.csv", scripts, comment=["made by a test"])
    assert read_caller_csv(tmp_path / "c.csv") == ("SEQUENTIAL", [
        CallerScript("+447700900009", (DtmfStep(300, "9", play_dtmf_ms("9")),
                                       DtmfStep(200, "12#", play_dtmf_ms("12#"))), 0)])
    agents = [AgentBehaviour("busy", 500), AgentBehaviour("answer", 100, 2000, 3000, 9000)]
    write_agent_csv(tmp_path / "a.csv", agents, order="RANDOM")
    assert read_agent_csv(tmp_path / "a.csv") == ("RANDOM", agents)


@pytest.mark.parametrize("path", sorted(SIPP_DIR.glob("*.xml")), ids=lambda p: p.name)
def test_scenarios_are_well_formed_and_every_jump_has_its_label(path: Path) -> None:
    """Caught here, not by SIPp at run time: malformed XML, "--" in a comment, a jump to no label."""
    import re
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    assert root.tag == "scenario"
    labels = {element.get("id") for element in root.iter("label")}
    jumps = {element.get("next") for element in root.iter() if element.get("next")}
    assert jumps <= labels, f"jumps to missing labels: {jumps - labels}"
    assert "--" not in "".join(re.findall(r"<!--(.*?)-->", path.read_text(), re.S))
    supplied = {"audio_pcap", "dispo_pcap"}  # the -key values esl-apps loadtest passes
    assert set(re.findall(r'play_pcap_audio="\[(\w+)\]"', path.read_text())) <= supplied
