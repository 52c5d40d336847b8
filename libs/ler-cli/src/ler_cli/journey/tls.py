"""A self-signed loopback certificate for local stacks (see ``ler_platform.local_tls``).

``python -m ler_cli.journey.tls DIR`` writes ``DIR/cert.pem`` and ``DIR/key.pem`` (used by
``deploy/local/services.sh``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ler_platform.local_tls import write_loopback_certificate

if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m ler_cli.journey.tls DIRECTORY", file=sys.stderr)
        raise SystemExit(2)
    for path in write_loopback_certificate(Path(sys.argv[1])):
        print(path)
