#!/usr/bin/env bash
# Make the real xenon-grpc server runnable for the tests in tests/xenon_grpc/:
#
#   1. Java: Debian's openjdk-17-jre-headless, installed with apt-get only when no `java` is
#      found (on PATH or in $JAVA_HOME/bin).
#   2. The jar: xenon-grpc-3.0.1.jar, taken from the PyPI sdist of pyxenon 3.0.3 (fetched
#      with `pip download`, never committed), checked against its SHA-256 and cached in
#      ${RXXENON_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rxxenon}.
#
# Prints one line on stdout, `export RXXENON_XENON_GRPC_JAR=<path>`, and writes the path to
# <cache>/xenon-grpc-jar.path; everything else goes to stderr. Use it as
#
#   eval "$(bash .ci/install-java-and-jar.sh)"
#
# Idempotent: with Java present and the jar cached it only checks, in well under a second.
set -euo pipefail

PYXENON_VERSION=3.0.3
XENON_GRPC_VERSION=3.0.1
JAR_SHA256=8dbb2eb189ed2eb9bdd017ae05df2281d10cb615fea1ca7fc79f394bb309f629
CACHE_DIR="${RXXENON_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rxxenon}"
JAR="$CACHE_DIR/xenon-grpc-$XENON_GRPC_VERSION.jar"
PYTHON="${PYTHON:-python3}"

log() { echo "install-java-and-jar: $*" >&2; }

# --- Java ------------------------------------------------------------------------------------
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    java="$JAVA_HOME/bin/java"
elif command -v java >/dev/null 2>&1; then
    java="$(command -v java)"
else
    log "no java: installing openjdk-17-jre-headless"
    sudo=()
    if [ "$(id -u)" != 0 ]; then
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update >&2
    "${sudo[@]}" apt-get install -y --no-install-recommends openjdk-17-jre-headless >&2
    java="$(command -v java)"
fi
log "java: $java ($("$java" -version 2>&1 | head -n 1))"

# --- the jar ---------------------------------------------------------------------------------
jar_ok() { [ -f "$1" ] && echo "$JAR_SHA256  $1" | sha256sum --check --status; }

if jar_ok "$JAR"; then
    log "jar: $JAR (cached)"
else
    log "downloading the pyxenon $PYXENON_VERSION sdist for xenon-grpc-$XENON_GRPC_VERSION.jar"
    mkdir -p "$CACHE_DIR"
    work="$(mktemp -d "$CACHE_DIR/download.XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    pip=("$PYTHON" -m pip)
    if ! "${pip[@]}" --version >/dev/null 2>&1; then
        # A Python without pip (Debian's python3 without python3-pip): a throwaway venv has it.
        "$PYTHON" -m venv "$work/venv" >&2
        pip=("$work/venv/bin/python" -m pip)
    fi
    "${pip[@]}" download --quiet --no-deps --no-binary :all: \
        "pyxenon==$PYXENON_VERSION" -d "$work" >&2
    member="pyxenon-$PYXENON_VERSION/lib/xenon-grpc-$XENON_GRPC_VERSION.jar"
    tar --no-same-owner -xzf "$work/pyxenon-$PYXENON_VERSION.tar.gz" -C "$work" "$member"
    if ! jar_ok "$work/$member"; then
        log "the jar in the sdist does not have the expected SHA-256 $JAR_SHA256"
        exit 1
    fi
    mv -f "$work/$member" "$JAR"  # same file system: atomic
    log "jar: $JAR"
fi

echo "$JAR" >"$CACHE_DIR/xenon-grpc-jar.path"
echo "export RXXENON_XENON_GRPC_JAR=$JAR"
