"""Classic libpcap files holding Ethernet/IPv4/UDP datagrams, the only shape SIPp's pcap player reads.

SIPp (prepare_pcap.c) accepts Ethernet or Linux-cooked link types, skips anything that is not UDP,
keeps only the UDP header and payload, and re-targets the ports at play time: every packet's
destination port is taken relative to the lowest destination port in the file. So a pcap meant for
one RTP stream must use one destination port throughout, and the capture timestamps are what SIPp
sleeps on between packets.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
_GLOBAL_HEADER = struct.Struct("<IHHiIII")
_RECORD_HEADER = struct.Struct("<IIII")
_ETHERTYPE_IPV4 = 0x0800
_IPPROTO_UDP = 17


class PcapError(ValueError):
    """The file is not a pcap SIPp could play (wrong magic, truncated record, not IPv4/UDP)."""


@dataclass(frozen=True)
class UdpDatagram:
    """One captured UDP datagram; ``time`` is seconds (float) since the epoch of the capture."""

    time: float
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    payload: bytes


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_udp_frame(src_ip: str, src_port: int, dst_ip: str, dst_port: int, payload: bytes) -> bytes:
    """An Ethernet frame carrying one IPv4/UDP datagram (UDP checksum 0: SIPp recomputes it)."""
    udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    ip_fields = [0x45, 0, 20 + len(udp), 0, 0x4000, 64, _IPPROTO_UDP, 0,
                 socket.inet_aton(src_ip), socket.inet_aton(dst_ip)]
    header = struct.pack("!BBHHHBBH4s4s", *ip_fields)
    ip_fields[7] = _ip_checksum(header)
    header = struct.pack("!BBHHHBBH4s4s", *ip_fields)
    ethernet = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + struct.pack("!H", _ETHERTYPE_IPV4)
    return ethernet + header + udp


def write_pcap(path: str | Path, frames: Iterable[tuple[float, bytes]],
               linktype: int = LINKTYPE_ETHERNET) -> int:
    """Write ``(time_seconds, frame)`` records; returns the number written."""
    count = 0
    with open(path, "wb") as out:
        out.write(_GLOBAL_HEADER.pack(PCAP_MAGIC, 2, 4, 0, 0, 65535, linktype))
        for when, frame in frames:
            micros = round(when * 1_000_000)
            out.write(_RECORD_HEADER.pack(micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)))
            out.write(frame)
            count += 1
    return count


def iter_pcap(path: str | Path) -> Iterator[tuple[float, int, bytes]]:
    """Yield ``(time, linktype, frame)``; understands both byte orders and nanosecond pcaps."""
    data = Path(path).read_bytes()
    if len(data) < _GLOBAL_HEADER.size:
        raise PcapError(f"{path}: too short for a pcap header")
    magic_le = struct.unpack("<I", data[:4])[0]
    endian, nanos = {0xA1B2C3D4: ("<", False), 0xD4C3B2A1: (">", False),
                     0xA1B23C4D: ("<", True), 0x4D3CB2A1: (">", True)}.get(magic_le, ("", False))
    if not endian:
        raise PcapError(f"{path}: not a pcap file (magic {magic_le:#010x})")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    record = struct.Struct(endian + "IIII")
    offset = _GLOBAL_HEADER.size
    while offset < len(data):
        if offset + record.size > len(data):
            raise PcapError(f"{path}: truncated record header at byte {offset}")
        sec, frac, incl, orig = record.unpack_from(data, offset)
        offset += record.size
        if incl != orig or offset + incl > len(data):
            raise PcapError(f"{path}: truncated packet at byte {offset} (SIPp needs full captures)")
        yield sec + frac / (1e9 if nanos else 1e6), linktype, data[offset:offset + incl]
        offset += incl


def decode_udp_frame(frame: bytes, linktype: int = LINKTYPE_ETHERNET,
                     when: float = 0.0) -> UdpDatagram | None:
    """The UDP datagram inside an Ethernet or Linux-cooked frame, or None if it holds something else."""
    if linktype == LINKTYPE_ETHERNET:
        offset = 12
    elif linktype == LINKTYPE_LINUX_SLL:
        offset = 14
    else:
        raise PcapError(f"unsupported pcap link type {linktype}")
    if len(frame) < offset + 2 + 20:
        return None
    ethertype = struct.unpack_from("!H", frame, offset)[0]
    offset += 2
    if ethertype == 0x8100:  # 802.1Q tag
        ethertype = struct.unpack_from("!H", frame, offset + 2)[0]
        offset += 4
    if ethertype != _ETHERTYPE_IPV4:
        return None
    return decode_ipv4_udp(frame[offset:], when)


def decode_ipv4_udp(packet: bytes, when: float = 0.0) -> UdpDatagram | None:
    """The UDP datagram in a raw IPv4 packet (as read from an AF_PACKET socket past the link header)."""
    if len(packet) < 28 or packet[0] >> 4 != 4 or packet[9] != _IPPROTO_UDP:
        return None
    ihl = (packet[0] & 0x0F) * 4
    src_port, dst_port, length = struct.unpack_from("!HHH", packet, ihl)
    payload = packet[ihl + 8: ihl + length]
    return UdpDatagram(when, socket.inet_ntoa(packet[12:16]), src_port, socket.inet_ntoa(packet[16:20]),
                       dst_port, payload)


def read_udp_pcap(path: str | Path) -> list[UdpDatagram]:
    """Every UDP datagram in the file, in capture order (other packets are skipped, as SIPp does)."""
    out = []
    for when, linktype, frame in iter_pcap(path):
        datagram = decode_udp_frame(frame, linktype, when)
        if datagram is not None:
            out.append(datagram)
    return out
