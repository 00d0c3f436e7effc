"""``esl-apps loadtest``: drive FreeSWITCH (or a SIPp stand-in) with SIPp callers and agents.

Exit codes: 0 every call succeeded; 1 some call failed (or SIPp could not run the test);
2 bad arguments or injection files; 3 sipp is missing or cannot send RTP (not root).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
import time
from pathlib import Path

from esl_apps.qa.callers import AGENT_MODES, InjectionFileError
from esl_apps.qa.loadtest import LoadtestPlan, Progress, run_loadtest
from esl_apps.qa.registration import Registration, parse_users
from esl_apps.qa.scenarios import DEFAULT_AUDIO_PCAP, VARIANTS, sipp_dir
from esl_apps.qa.sipp_runner import SippFailed, SippNotFound, can_send_rtp, find_sipp
from esl_apps.qa.summary import as_dict, progress_line, render

EPILOG = """\
examples:
  # against FreeSWITCH (external profile on port 5080), 50 callers at 2 calls/s, agents on 5091-5098
  esl-apps loadtest --target 10.0.0.5:5080 --scenario consent-accept --calls 50 --rate 2 --limit 40 \\
      --agents 8 --agent-base-port 5091 --redis redis://10.0.0.5:6379/0
  # SIPp-to-SIPp on this machine: a UAS on 5090 stands in for the switch, waits shortened 20x
  esl-apps loadtest --target 127.0.0.1:5090 --standin --scenario caller --calls 10 --rate 5 --time-scale 0.05
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "loadtest", help="run a SIPp load test of a call flow and summarise it",
        description="Start SIPp agents (UAS) and callers (UAC) for one call flow, show progress, and "
                    "summarise SIPp's statistics and the application's records in Redis.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--target", required=True, metavar="HOST:PORT", help="FreeSWITCH SIP address to call")
    add("--scenario", choices=sorted(VARIANTS), default="caller", help="call flow to exercise")
    add("--calls", type=int, default=10, metavar="N", help="calls to place (default 10)")
    add("--rate", type=float, default=1.0, metavar="R", help="new calls per second (default 1)")
    add("--limit", type=int, default=100, metavar="L", help="most calls at once (default 100)")
    add("--did", help="number to dial (default: the scenario's DID from the example config)")
    add("--csv", type=Path, metavar="FILE", help="caller injection file instead of the scenario's")
    add("--time-scale", type=float, default=1.0, metavar="F",
        help="multiply every wait and talk time (e.g. 0.05 for a quick SIPp-to-SIPp run)")
    agents = parser.add_argument_group("agents (SIPp UAS that FreeSWITCH rings)").add_argument
    agents("--agents", type=int, default=0, metavar="N", help="agent UASs to start (default 0)")
    agents("--agent-base-port", type=int, default=5091, metavar="PORT",
           help="SIP port of the first agent; the others follow (default 5091)")
    agents("--agent-mode", choices=AGENT_MODES, help="default: the scenario's (overflow: noanswer)")
    agents("--answer-delay", type=float, default=2.0, metavar="S", help="seconds ringing (default 2)")
    agents("--dispo", metavar="KEYS", help='disposition keys, "," = 1 s pause (default "23*40*50#,,,1")')
    agents("--dispo-after", type=float, metavar="S",
           help="seconds after answering to key the disposition (default: caller talk time + 6 s)")
    agents("--agent-csv", type=Path, metavar="FILE", help="agent injection file (overrides the above)")
    agents("--standin", action="store_true",
           help="also start a UAS on --target that answers like the switch (SIPp-to-SIPp runs)")
    reg = parser.add_argument_group("registration (agents rung as user/<ext>@<domain>)").add_argument
    reg("--register", metavar="USERS", help="first register the agents as these users, one each: 1001-1008")
    reg("--register-server", metavar="HOST:PORT", help="where to REGISTER (default: target host, port 5060)")
    reg("--register-domain", help="SIP domain (default: `domain` in --conf's pbx.yaml)")
    reg("--conf", type=Path, help="directory holding pbx.yaml (default: the shipped example)")
    reg("--register-password-env", default="ESL_APPS_AGENT_PASSWORD", metavar="VAR",
        help="environment variable holding the users' SIP password (default ESL_APPS_AGENT_PASSWORD)")
    reg("--register-password-file", type=Path, metavar="FILE", help="or a file holding it")
    other = parser.add_argument_group("other").add_argument
    other("--local-ip", default=None,
          help="address SIPp binds (default 127.0.0.1 for a loopback target, else the route to the target)")
    other("--caller-port", type=int, help="caller's SIP port (default: any free port)")
    other("--media-port", type=int, metavar="PORT",
          help="RTP port of the caller; standin +1000, agents +2000 (default: free ports)")
    other("--audio-pcap", type=Path, default=DEFAULT_AUDIO_PCAP, help="PCMA audio the calls play")
    other("--redis", metavar="URL", help="also count the application's records in this Redis")
    other("--redis-prefix", default="esl", help="the application's key prefix (default esl)")
    other("--max-duration", type=int, metavar="S", help="stop the caller after S seconds")
    other("--out", type=Path, help="directory for SIPp's files (default ./sipp-results/<scenario>-<time>)")
    other("--json", type=Path, metavar="FILE", help="also write the summary as JSON")
    other("--trace-msg", action="store_true", help="log every SIP message (large)")
    parser.set_defaults(func=run)


def _bad(message: str) -> int:
    print(f"esl-apps loadtest: {message}", file=sys.stderr)
    return 2


def _target(text: str) -> tuple[str, int] | None:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def _local_ip(host: str) -> str:
    """127.0.0.1 for a loopback target; otherwise the address the kernel would use to reach it."""
    import socket

    try:
        if ipaddress.ip_address(host).is_loopback:
            return "127.0.0.1"
    except ValueError:
        if host == "localhost":
            return "127.0.0.1"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((host, 5060))
            return sock.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def _check(args: argparse.Namespace) -> str | None:
    """A message for the first invalid argument, or None."""
    if args.calls < 1 or args.limit < 1:
        return "--calls and --limit must be at least 1"
    if args.rate <= 0:
        return "--rate must be positive"
    if args.time_scale <= 0:
        return "--time-scale must be positive"
    if args.agents < 0 or args.agents > 200:
        return "--agents must be between 0 and 200"
    if args.answer_delay < 0 or (args.dispo_after is not None and args.dispo_after < 0):
        return "--answer-delay and --dispo-after cannot be negative"
    if args.agents and not 0 < args.agent_base_port <= 65535 - args.agents:
        return "--agent-base-port is out of range"
    for path in (args.csv, args.agent_csv):
        if path is not None and not path.is_file():
            return f"{path}: no such file"
    if not args.audio_pcap.is_file():
        return f"{args.audio_pcap}: no such audio pcap (Debian package sip-tester ships g711a.pcap)"
    return None


def _registration(args: argparse.Namespace, host: str) -> Registration | str | None:
    """The agents' registration from the arguments, an error message, or None when not asked for."""
    if not args.register:
        return None
    try:
        users = parse_users(args.register)
    except ValueError as exc:
        return f"--register: {exc}"
    if len(users) != args.agents:
        return f"--register names {len(users)} users for --agents {args.agents}: give one user per agent"
    server = args.register_server or f"{host}:5060"
    if _target(server) is None:
        return f"--register-server {server!r}: expected HOST:PORT"
    if args.register_password_file:
        try:
            password = args.register_password_file.read_text().strip()
        except OSError as exc:
            return f"--register-password-file: {exc}"
    else:
        password = os.environ.get(args.register_password_env, "")
    if not password:
        return f"no SIP password: set {args.register_password_env} or use --register-password-file"
    domain = args.register_domain or _conf_domain(args.conf)
    if not domain:
        return "no SIP domain: use --register-domain or a pbx.yaml with `domain`"
    return Registration(users, server, domain, password)


def _conf_domain(conf: Path | None) -> str | None:
    import yaml

    from esl_apps.resources import example_conf_dir

    try:
        data = yaml.safe_load(((conf or example_conf_dir()) / "pbx.yaml").read_text())
    except (OSError, yaml.YAMLError, FileNotFoundError):
        return None
    domain = data.get("domain") if isinstance(data, dict) else None
    return str(domain) if domain else None


def run(args: argparse.Namespace) -> int:
    target = _target(args.target)
    if target is None:
        return _bad(f"--target {args.target!r}: expected HOST:PORT")
    problem = _check(args)
    if problem:
        return _bad(problem)
    host, port = target
    registration = _registration(args, host)
    if isinstance(registration, str):
        return _bad(registration)
    if args.standin and args.agents and args.agent_base_port <= port < args.agent_base_port + args.agents:
        return _bad("--standin uses the --target port, which is also an agent port")
    try:
        find_sipp()
    except SippNotFound as exc:
        print(f"esl-apps loadtest: {exc}", file=sys.stderr)
        return 3
    if not can_send_rtp():
        print("esl-apps loadtest: SIPp needs root to send RTP (raw sockets); run as root", file=sys.stderr)
        return 3
    variant = VARIANTS[args.scenario]
    local_ip = args.local_ip or _local_ip(host)
    workdir = args.out or Path("sipp-results") / f"{variant.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        caller_csv = args.csv or sipp_dir() / variant.caller_csv
    except FileNotFoundError as exc:
        return _bad(str(exc))
    plan = LoadtestPlan(
        target_host=host, target_port=port, variant=variant, did=args.did or variant.did, rate=args.rate,
        limit=args.limit, calls=args.calls, caller_csv=caller_csv, workdir=workdir.resolve(),
        audio_pcap=args.audio_pcap.resolve(), time_scale=args.time_scale, agents=args.agents,
        agent_base_port=args.agent_base_port, agent_mode=args.agent_mode,
        answer_delay_ms=round(args.answer_delay * 1000), agent_csv=args.agent_csv, disposition=args.dispo,
        dispo_after_ms=None if args.dispo_after is None else round(args.dispo_after * 1000),
        standin=args.standin, local_ip=local_ip, caller_port=args.caller_port,
        media_port_base=args.media_port,
        redis_url=args.redis, redis_prefix=args.redis_prefix, max_duration_s=args.max_duration,
        trace_msg=args.trace_msg, registration=registration,
    )
    interactive = sys.stderr.isatty()
    last_print = [0.0]

    def show(progress: Progress) -> None:
        line = progress_line(progress, plan.calls)
        if interactive:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif time.monotonic() - last_print[0] >= 5:
            print(line, file=sys.stderr, flush=True)
            last_print[0] = time.monotonic()

    try:
        result = run_loadtest(plan, show)
    except (InjectionFileError, ValueError) as exc:
        return _bad(str(exc))
    except (SippFailed, FileNotFoundError) as exc:
        print(f"\nesl-apps loadtest: {exc}", file=sys.stderr)
        return 1
    if interactive:
        print(file=sys.stderr)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(as_dict(result), indent=2) + "\n")
    return 0 if result.all_succeeded else 1


if os.name != "posix":  # pragma: no cover - SIPp and raw sockets are POSIX-only
    raise ImportError("esl-apps loadtest needs a POSIX system")
