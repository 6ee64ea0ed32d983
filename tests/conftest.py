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
