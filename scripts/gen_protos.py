"""Generate the Python code and typed stubs of the LER contracts.

Compiles every ``protos/**/*.proto`` with the protoc bundled in grpcio-tools (and its bundled
well-known types) into ``libs/ler-proto/src/ler``: messages (``*_pb2.py``), gRPC stubs and
servicers (``*_pb2_grpc.py``) and mypy-protobuf stubs for both (``*.pyi``), plus the
``__init__.py`` files that make ``ler.<context>.v1`` importable packages. That directory is
generated output only and is replaced whole; the hand-written code lives in ``ler_proto``.

Usage (from the repository root)::

    uv run python scripts/gen_protos.py           # regenerate
    uv run python scripts/gen_protos.py --check   # exit 1, listing stale files, if out of date

The generators are the versions pinned in ``uv.lock`` (grpcio-tools, mypy-protobuf); the output
embeds them, so a generator upgrade shows up in ``--check`` as stale files to regenerate.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import sysconfig
import tempfile
from importlib import resources
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = REPO_ROOT / "protos"
OUT_ROOT = REPO_ROOT / "libs" / "ler-proto" / "src"
PACKAGE = "ler"

INIT_TEXT = '"""Generated from protos/{path} by scripts/gen_protos.py. Do not edit."""\n'
PLUGINS = ("protoc-gen-mypy", "protoc-gen-mypy_grpc")


class GenerationError(Exception):
    """Code generation could not run or failed."""


def find_plugin(name: str) -> Path:
    """Locate a protoc plugin executable installed in the running environment."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / name,
        Path(sys.executable).parent / name,
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    if found is None:
        raise GenerationError(
            f"protoc plugin {name!r} not found; install the dev dependencies (uv sync)"
        )
    return Path(found)


def proto_files() -> list[Path]:
    """All .proto files under protos/, relative to it, in a stable order."""
    files = sorted(p.relative_to(PROTO_ROOT) for p in PROTO_ROOT.rglob("*.proto"))
    if not files:
        raise GenerationError(f"no .proto files under {PROTO_ROOT}")
    return files


def run_protoc(out_dir: Path) -> None:
    """Compile every proto into out_dir with protoc from grpcio-tools."""
    # A dev dependency (untyped), imported here so that --help works without it.
    from grpc_tools import protoc  # type: ignore[import-untyped]

    well_known = resources.files("grpc_tools") / "_proto"
    plugin_args = [f"--plugin={name}={find_plugin(name)}" for name in PLUGINS]
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--proto_path={well_known}",
        *plugin_args,
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        # "quiet": mypy-protobuf otherwise prints one line per file it writes.
        f"--mypy_out=quiet:{out_dir}",
        f"--mypy_grpc_out=quiet:{out_dir}",
        *(str(p) for p in proto_files()),
    ]
    # protoc.main reports errors on stderr and returns non-zero; it does not raise.
    if protoc.main(args) != 0:
        raise GenerationError("protoc failed (see its messages above)")


def drop_empty_grpc_modules(out_dir: Path) -> None:
    """Remove the ``*_pb2_grpc`` modules of protos that define no service.

    The gRPC plugin writes one for every proto; for files holding only messages (resources,
    events, common types) it contains nothing but a version check, and would only mislead.
    """
    for module in sorted(out_dir.rglob("*_pb2_grpc.py")):
        if "Servicer" not in module.read_text(encoding="utf-8"):
            module.unlink()
            module.with_suffix(".pyi").unlink(missing_ok=True)


def add_package_markers(out_dir: Path) -> None:
    """Make every generated directory a package and mark the tree as typed (PEP 561)."""
    package_root = out_dir / PACKAGE
    if not package_root.is_dir():
        raise GenerationError(f"protoc produced no {PACKAGE}/ package in {out_dir}")
    for directory in [package_root, *sorted(p for p in package_root.rglob("*") if p.is_dir())]:
        rel = directory.relative_to(out_dir).as_posix()
        (directory / "__init__.py").write_text(INIT_TEXT.format(path=rel), encoding="utf-8")
    (package_root / "py.typed").write_text("", encoding="utf-8")


def generate(out_dir: Path) -> Path:
    """Generate the whole ``ler`` package into out_dir and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    run_protoc(out_dir)
    drop_empty_grpc_modules(out_dir)
    add_package_markers(out_dir)
    return out_dir / PACKAGE


def tree_files(root: Path) -> set[str]:
    """Relative paths of the files under root, ignoring Python caches."""
    if not root.is_dir():
        return set()
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def stale_files(fresh: Path, committed: Path) -> list[str]:
    """Files that differ between a fresh generation and the committed tree, with why."""
    fresh_files, committed_files = tree_files(fresh), tree_files(committed)
    problems = [f"missing: {PACKAGE}/{name}" for name in sorted(fresh_files - committed_files)]
    problems += [f"extra:   {PACKAGE}/{name}" for name in sorted(committed_files - fresh_files)]
    problems += [
        f"changed: {PACKAGE}/{name}"
        for name in sorted(fresh_files & committed_files)
        if not filecmp.cmp(fresh / name, committed / name, shallow=False)
    ]
    return problems


def check() -> int:
    """Regenerate into a temporary directory and compare with the committed code."""
    with tempfile.TemporaryDirectory(prefix="ler-protos-") as tmp:
        problems = stale_files(generate(Path(tmp)), OUT_ROOT / PACKAGE)
    if problems:
        print("Generated protobuf code is stale; run `make protos` and commit the result:")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print(f"Generated protobuf code in {OUT_ROOT.relative_to(REPO_ROOT)}/{PACKAGE} is fresh.")
    return 0


def write() -> int:
    """Regenerate and replace the committed ``ler`` package with the result."""
    target = OUT_ROOT / PACKAGE
    with tempfile.TemporaryDirectory(prefix="ler-protos-") as tmp:
        fresh = generate(Path(tmp))
        # Replace whole so that code of deleted or renamed protos does not linger.
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(fresh, target)
    count = len(tree_files(target))
    print(f"Generated {count} files into {target.relative_to(REPO_ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 and list the stale files if the committed code is out of date",
    )
    args = parser.parse_args(argv)
    try:
        return check() if args.check else write()
    except GenerationError as err:
        print(f"gen_protos: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
