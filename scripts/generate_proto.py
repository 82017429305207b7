"""Regenerate ``rxxenon/_proto`` from ``protos/xenon.proto``.

Usage (from the project root, with the ``dev`` extra installed)::

    python scripts/generate_proto.py            # rewrite rxxenon/_proto/
    python scripts/generate_proto.py --check    # fail if the committed files differ

The proto is compiled as ``rxxenon/_proto/xenon.proto`` so that the generated gRPC module
imports its messages as ``rxxenon._proto.xenon_pb2`` instead of a top-level ``xenon_pb2``.
Type stubs (``.pyi``) come from mypy-protobuf.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "protos" / "xenon.proto"
PACKAGE_DIR = ROOT / "rxxenon" / "_proto"
GENERATED = ("xenon_pb2.py", "xenon_pb2.pyi", "xenon_pb2_grpc.py", "xenon_pb2_grpc.pyi")


def generate(out_root: Path) -> Path:
    """Compile the proto into ``out_root/rxxenon/_proto`` and return that folder."""
    from grpc_tools import protoc  # dev dependency, imported only when generating

    with tempfile.TemporaryDirectory() as include:
        staged = Path(include) / "rxxenon" / "_proto" / "xenon.proto"
        staged.parent.mkdir(parents=True)
        shutil.copyfile(PROTO, staged)
        out_root.mkdir(parents=True, exist_ok=True)
        args = [
            "grpc_tools.protoc",
            f"-I{include}",
            f"--python_out={out_root}",
            f"--grpc_python_out={out_root}",
            f"--mypy_out={out_root}",
            f"--mypy_grpc_out={out_root}",
            str(staged),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed: " + " ".join(args))
    return out_root / "rxxenon" / "_proto"


def differences(generated: Path) -> list[str]:
    """Names of generated files that differ from the committed ones."""
    return [
        name
        for name in GENERATED
        if not (PACKAGE_DIR / name).exists()
        or not filecmp.cmp(generated / name, PACKAGE_DIR / name, shallow=False)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        generated = generate(Path(scratch))
        changed = differences(generated)
        if options.check:
            for name in changed:
                print(f"out of date: rxxenon/_proto/{name}", file=sys.stderr)
            return 1 if changed else 0
        for name in GENERATED:
            shutil.copyfile(generated / name, PACKAGE_DIR / name)
    print("regenerated rxxenon/_proto from protos/xenon.proto")
    return 0


if __name__ == "__main__":
    sys.exit(main())
