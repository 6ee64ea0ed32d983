import os

import pytest

# Tests must never reach a model hub.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
# Safe loading must work without this escape hatch.
os.environ.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO_ROOT


def _run_python(args, cwd, extra_env=None, timeout=900) -> str:
    """Run ``python ARGS`` (or a shell script when ARGS[0] ends with .sh) in ``cwd`` with safe
    loading on; fail with the tail of the output."""
    import subprocess
    import sys
    env = dict(os.environ, **(extra_env or {}))
    env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
    cmd = ['bash', *args] if str(args[0]).endswith('.sh') else [sys.executable, *args]
    proc = subprocess.run([str(a) for a in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope='session')
def run_tool():
    return _run_python
