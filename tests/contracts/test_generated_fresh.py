"""The committed generated code is exactly what the pinned generators make from protos/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]
GEN_SCRIPT = REPO_ROOT / "scripts" / "gen_protos.py"
GENERATED_ROOT = REPO_ROOT / "libs" / "ler-proto" / "src" / "ler"


def test_committed_generated_code_is_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(GEN_SCRIPT), "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        "libs/ler-proto/src/ler is stale; run `make protos` and commit it.\n"
        + result.stdout
        + result.stderr
    )
    assert "is fresh" in result.stdout


def test_check_reports_changed_missing_and_extra_files(
    gen_protos: ModuleType, tmp_path: Path
) -> None:
    fresh = gen_protos.generate(tmp_path / "fresh")
    committed = tmp_path / "committed" / "ler"
    shutil.copytree(fresh, committed)
    assert gen_protos.stale_files(fresh, committed) == []

    (committed / "issuance" / "v1" / "events_pb2.py").write_text("# edited by hand\n")
    (committed / "wallet" / "v1" / "wallet_service_pb2_grpc.py").unlink()
    (committed / "common" / "v1" / "leftover_pb2.py").write_text("# from a deleted proto\n")

    assert gen_protos.stale_files(fresh, committed) == [
        "missing: ler/wallet/v1/wallet_service_pb2_grpc.py",
        "extra:   ler/common/v1/leftover_pb2.py",
        "changed: ler/issuance/v1/events_pb2.py",
    ]


def test_generation_covers_every_proto(gen_protos: ModuleType) -> None:
    expected = {
        p.relative_to(gen_protos.PROTO_ROOT).with_suffix("").as_posix() + "_pb2.py"
        for p in gen_protos.PROTO_ROOT.rglob("*.proto")
    }
    generated = {
        p.relative_to(GENERATED_ROOT.parent).as_posix() for p in GENERATED_ROOT.rglob("*_pb2.py")
    }
    assert expected == generated
