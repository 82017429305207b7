"""A virtualenv with PyXenon 3.0.3 as ``pip install pyxenon==3.0.3`` gives it today.

Made on first use under ``~/.cache/rxxenon/bench-pyxenon-venv`` (``RXXENON_CACHE_DIR`` or
``XDG_CACHE_HOME`` move it), from PyPI with pip, and reused afterwards. PyXenon's generated
protobuf code imports with a current protobuf only in the pure-Python implementation, so
its client runs with ``PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["PYXENON_ENV", "PyXenonUnavailable", "ensure_venv", "venv_dir", "versions"]

PYXENON_REQUIREMENT = "pyxenon==3.0.3"

#: The environment the PyXenon client needs (added to the benchmark's own).
PYXENON_ENV = {"PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}

#: How long creating the virtualenv may take.
INSTALL_TIMEOUT = 600


class PyXenonUnavailable(Exception):
    """The PyXenon virtualenv could not be made; the message says why."""


def venv_dir() -> Path:
    base = os.environ.get("RXXENON_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "rxxenon"
    )
    return Path(base, "bench-pyxenon-venv")


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _imports(python: Path) -> bool:
    check = [str(python), "-c", "import xenon, grpc"]
    env = {**os.environ, **PYXENON_ENV}
    return subprocess.run(check, env=env, capture_output=True, timeout=120).returncode == 0


def ensure_venv(log: bool = True) -> Path:
    """The python of the PyXenon virtualenv, made (once) if need be."""
    venv = venv_dir()
    python = _python(venv)
    if python.exists() and _imports(python):
        return python
    if log:
        print(f"making the PyXenon virtualenv in {venv} ...", file=sys.stderr, flush=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", PYXENON_REQUIREMENT],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        if done.returncode != 0:
            raise PyXenonUnavailable(
                f"{' '.join(step)} failed: {(done.stderr or done.stdout).strip()[-500:]}"
            )
    if not _imports(python):
        raise PyXenonUnavailable(f"PyXenon does not import in {venv}")
    return python


def versions(python: Path) -> dict[str, str]:
    """Versions of pyxenon, grpcio and protobuf (and its implementation) in the virtualenv."""
    code = (
        "import json, importlib.metadata as m\n"
        "from google.protobuf.internal import api_implementation as a\n"
        "print(json.dumps({n: m.version(n) for n in ('pyxenon', 'grpcio', 'protobuf')}"
        " | {'protobuf_implementation': a.Type()}))"
    )
    env = {**os.environ, **PYXENON_ENV}
    done = subprocess.run(
        [str(python), "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-300:]}
    result: dict[str, str] = json.loads(done.stdout)
    return result
