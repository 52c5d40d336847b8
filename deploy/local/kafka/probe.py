"""Readiness probe for the local Kafka broker, standard library only.

Sends one Metadata request (API key 3, version 4) over plain TCP and succeeds
when the broker answers with at least one registered broker and a known
controller, i.e. when clients can really use it.  Kafka 4 removed Metadata
v0-v3 (KIP-896); v4 is the oldest version left and the newest that is not
"flexible", which keeps the encoding below simple.

Usage: python3 probe.py HOST PORT [TIMEOUT_SECONDS]
Exit 0 when ready (prints "brokers=N controller=ID cluster=ID"), 1 otherwise.
"""

from __future__ import annotations

import socket
import struct
import sys

API_METADATA = 3
METADATA_VERSION = 4
CLIENT_ID = b"ler-probe"


class ProbeError(Exception):
    """The broker did not give a usable Metadata answer."""


def _request() -> bytes:
    # Request header v1: api_key, api_version, correlation_id, client_id.
    header = struct.pack(">hhih", API_METADATA, METADATA_VERSION, 1, len(CLIENT_ID)) + CLIENT_ID
    # Metadata request v4: topics = null (-1: all topics), allow_auto_topic_creation = false.
    body = struct.pack(">ib", -1, 0)
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ProbeError("connection closed before a full response arrived")
        chunks.extend(chunk)
    return bytes(chunks)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def string(self) -> str | None:
        length = self.take(">h")
        if length < 0:
            return None
        value = self.data[self.pos : self.pos + length].decode()
        self.pos += length
        return value


def probe(host: str, port: int, timeout: float) -> str:
    """Return a one-line summary of the cluster, or raise ProbeError."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(_request())
            (size,) = struct.unpack(">i", _recv_exact(sock, 4))
            reader = _Reader(_recv_exact(sock, size))
    except OSError as err:
        raise ProbeError(f"cannot talk to {host}:{port}: {err}") from err
    try:
        if reader.take(">i") != 1:
            raise ProbeError("response carries the wrong correlation id")
        reader.take(">i")  # throttle_time_ms
        brokers = reader.take(">i")
        for _ in range(max(brokers, 0)):
            reader.take(">i")  # node_id
            reader.string()  # host
            reader.take(">i")  # port
            reader.string()  # rack
        cluster_id = reader.string()
        controller_id = reader.take(">i")
    except (struct.error, UnicodeDecodeError) as err:
        raise ProbeError(f"malformed Metadata response: {err}") from err
    if brokers < 1 or controller_id < 0:
        raise ProbeError(f"not ready yet: brokers={brokers} controller={controller_id}")
    return f"brokers={brokers} controller={controller_id} cluster={cluster_id}"


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    timeout = float(argv[3]) if len(argv) == 4 else 2.0
    try:
        print(probe(argv[1], int(argv[2]), timeout))
    except ProbeError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
