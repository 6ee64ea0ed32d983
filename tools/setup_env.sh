#!/usr/bin/env bash
# Creates the project's virtual environment with the pinned OpenMMLab stack and installs `psalm`.
#
#   bash tools/setup_env.sh            # -> .venv/ in the repository root
#
# Environment variables:
#   PSALM_VENV         where the virtual environment goes (default: <repo>/.venv)
#   PYTHON             interpreter that creates it (default: python3; 3.10-3.12, 3.11 is tested)
#   PSALM_WHEEL_CACHE  where the compiled mmcv wheel is kept between setups
#                      (default: ${XDG_CACHE_HOME:-~/.cache}/psalm/wheels)
#   MAX_JOBS           parallel compilers for mmcv's ops (default: number of cores)
#
# mmcv 2.1.0 has no wheel for recent torch on PyPI, so the first setup on a machine compiles its
# ops from the sdist (about 25 minutes on 2 cores). The wheel is cached per torch version, so
# later setups on the same machine take a couple of minutes.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${PSALM_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
CACHE_ROOT=${PSALM_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/psalm/wheels}
start=$(date +%s)
log() { echo "[setup_env $(( $(date +%s) - start ))s] $*"; }

"$PYTHON" - <<'PY'
import sys
if not ((3, 10) <= sys.version_info[:2] <= (3, 12)):
    sys.exit(f'Python 3.10-3.12 is required (found {sys.version.split()[0]}); set PYTHON=...')
PY

if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -q)

log "installing build requirements (torch, setuptools<82, ninja)"
"${PIP[@]}" -r "$ROOT/requirements/build.txt"

# The compiled mmcv depends on the torch it was built against: one cache folder per torch build.
TORCH_TAG=$("$PY" -c 'import sys, torch; print(f"torch{torch.__version__}-py{sys.version_info[0]}{sys.version_info[1]}")')
CACHE="$CACHE_ROOT/$TORCH_TAG"
mkdir -p "$CACHE"

has_ext() {  # does this mmcv wheel contain the compiled ops?
    "$PY" -c 'import sys, zipfile; names = zipfile.ZipFile(sys.argv[1]).namelist(); sys.exit(0 if any(n.startswith("mmcv/_ext") for n in names) else 1)' "$1"
}

WHEEL=$(ls "$CACHE"/mmcv-2.1.0-*.whl 2>/dev/null | head -n 1 || true)
if [ -n "$WHEEL" ] && ! has_ext "$WHEEL"; then
    log "discarding cached $WHEEL: it has no compiled ops"
    rm -f "$WHEEL"
    WHEEL=""
fi
if [ -z "$WHEEL" ]; then
    log "compiling mmcv 2.1.0 with its ops for $TORCH_TAG (slow: about 25 minutes on 2 cores)"
    BUILD_DIR=$(mktemp -d)
    # --no-build-isolation: mmcv's setup.py imports torch, and without it silently skips the ops.
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
        "$PY" -m pip wheel --disable-pip-version-check -q --no-build-isolation --no-deps \
        -r "$ROOT/requirements/mmcv.txt" -w "$BUILD_DIR"
    BUILT=$(ls "$BUILD_DIR"/mmcv-2.1.0-*.whl)
    has_ext "$BUILT" || { echo "mmcv was built without its compiled ops ($BUILT)" >&2; exit 1; }
    # Move into the cache only once complete, so an interrupted build never leaves a bad wheel.
    mv "$BUILT" "$CACHE/"
    rm -rf "$BUILD_DIR"
    WHEEL=$(ls "$CACHE"/mmcv-2.1.0-*.whl | head -n 1)
else
    log "reusing compiled mmcv from $WHEEL"
fi

log "installing mmcv, the OpenMMLab stack, the runtime and test requirements (peft for LoRA included)"
"${PIP[@]}" "$WHEEL" -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt"
"${PIP[@]}" --no-deps -r "$ROOT/requirements/nodeps.txt"

log "installing psalm (editable)"
"${PIP[@]}" --no-deps --no-build-isolation -e "$ROOT"

"$PY" - <<'PY'
import mmcv, mmdet, mmengine, peft, torch, transformers
import mmcv.ops  # fails without the compiled ops
import psalm
print(f'torch {torch.__version__}, mmcv {mmcv.__version__} (ops ok), mmengine {mmengine.__version__}, '
      f'mmdet {mmdet.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, '
      f'psalm {psalm.__version__}')
PY
log "done: activate with 'source $VENV/bin/activate'"
