"""Capture the RTP that SIPp sends on this host, to check which DTMF keys really went out.

SIPp plays pcaps through a raw socket and has no way to check RTP it receives, so the only honest
check that a scenario's DTMF left the box is to look at the wire. This is a small tcpdump: an
AF_PACKET socket on one interface (root only, like SIPp's own pcap playback), a thread collecting
UDP datagrams to the ports of interest, and decoding per RTP stream (one stream per source and
destination port pair, which is one call leg, since SIPp sends each call from its own media port).
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Container, Iterable
from dataclasses import dataclass

from esl_apps.qa.pcap import LINKTYPE_ETHERNET, UdpDatagram, decode_udp_frame
from esl_apps.qa.rtp import ReceivedKey, RtpError, RtpPacket, decode_keys, keys_text, parse_rtp

_ETH_P_ALL = 0x0003
_PACKET_HOST = 0  # the receiving copy; on loopback every frame is also seen once as outgoing


class CaptureUnavailable(RuntimeError):
    """No AF_PACKET socket (not Linux, or not root / no CAP_NET_RAW)."""


@dataclass(frozen=True, order=True)
class StreamKey:
    src_port: int
    dst_port: int


class RtpCapture:
    """Collect UDP datagrams whose destination port is in ``ports`` (all UDP if None).

    Use as a context manager; read results after it exits (or after ``stop()``).
    """

    def __init__(self, ports: Iterable[int] | None = None, interface: str = "lo") -> None:
        self.ports = frozenset(ports) if ports is not None else None
        self.interface = interface
        self.datagrams: list[UdpDatagram] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def start(self) -> RtpCapture:
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
            sock.bind((self.interface, 0))
        except (AttributeError, PermissionError, OSError) as exc:
            raise CaptureUnavailable(f"cannot capture on {self.interface}: {exc}") from exc
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self._sock = sock
        self._thread = threading.Thread(target=self._run, name="rtp-capture", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> RtpCapture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.05)
            if not ready:
                continue
            while True:
                try:
                    frame, address = self._sock.recvfrom(65535, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                if address[2] != _PACKET_HOST:
                    continue
                datagram = decode_udp_frame(frame, LINKTYPE_ETHERNET, time.time())
                if datagram is not None and (self.ports is None or datagram.dst_port in self.ports):
                    self.datagrams.append(datagram)

    def streams(self, dst_ports: Container[int] | None = None) -> dict[StreamKey, list[RtpPacket]]:
        """RTP packets per (source port, destination port); datagrams that are not RTP are skipped."""
        out: dict[StreamKey, list[RtpPacket]] = defaultdict(list)
        for datagram in self.datagrams:
            if dst_ports is not None and datagram.dst_port not in dst_ports:
                continue
            try:
                packet = parse_rtp(datagram.payload, datagram.time)
            except RtpError:
                continue
            out[StreamKey(datagram.src_port, datagram.dst_port)].append(packet)
        return dict(out)

    def keys_by_stream(self, payload_types: Iterable[int] = (101,), *, freeswitch_rules: bool = True,
                       dst_ports: Container[int] | None = None) -> dict[StreamKey, list[ReceivedKey]]:
        types = tuple(payload_types)
        return {stream: keys for stream, packets in self.streams(dst_ports).items()
                if (keys := decode_keys(packets, types, freeswitch_rules=freeswitch_rules))}

    def digits_by_stream(self, payload_types: Iterable[int] = (101,), *, freeswitch_rules: bool = True,
                         dst_ports: Container[int] | None = None) -> dict[StreamKey, str]:
        """Keys per stream as text, e.g. ``{StreamKey(16000, 17000): "12#"}``."""
        keys = self.keys_by_stream(payload_types, freeswitch_rules=freeswitch_rules, dst_ports=dst_ports)
        return {stream: keys_text(found) for stream, found in keys.items()}
