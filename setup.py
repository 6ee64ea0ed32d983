"""Installs the ``psalm`` package (sources under ``projects/psalm/psalm``).

mmcv is not an install requirement: it must be compiled with its ops against the installed torch
(``tools/setup_env.sh`` does it), and a plain ``pip install mmcv`` would build it without them.
"""
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent
PKG_DIR = 'projects/psalm/psalm'


def read_requirements(path: str) -> list:
    reqs = []
    for line in (ROOT / path).read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if line and not line.startswith('-'):
            reqs.append(line)
    return reqs


def read_version() -> str:
    scope: dict = {}
    exec((ROOT / PKG_DIR / 'version.py').read_text(), scope)
    return scope['__version__']


setup(
    name='psalm-mmdet',
    version=read_version(),
    description='PSALM (ECCV 2024) as an MMDetection plugin',
    long_description=(ROOT / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    # One import name only: `psalm` maps onto projects/psalm/psalm, so no module is
    # registered twice under another dotted path.
    package_dir={'psalm': PKG_DIR},
    packages=['psalm'] + ['psalm.' + p for p in find_packages(PKG_DIR)],
    include_package_data=True,
    package_data={'psalm': ['data/*', 'data/**/*']},
    install_requires=read_requirements('requirements/runtime.txt'),
    extras_require={
        'tests': read_requirements('requirements/tests.txt'),
        'optional': read_requirements('requirements/optional.txt'),
    },
    zip_safe=False,
)
