"""Config loading shared by tools/train.py and tools/test.py."""
import argparse
import os.path as osp

import pytest
from mmengine.config import Config

from psalm.utils import import_script


def _runner_args(repo_root):
    return import_script(osp.join(repo_root, 'tools', '_runner_args.py'))


def _args(config, **kwargs):
    return argparse.Namespace(config=config, launcher='none', cfg_options=None, work_dir=None,
                              **kwargs)


def test_loaded_config_dumps_unformatted_and_loads_back_the_same(repo_root, tmp_path):
    tools = _runner_args(repo_root)
    config = osp.join(repo_root, 'configs', 'psalm', 'psalm_tiny_phi_shapes_joint.py')
    args = _args(config)
    args.cfg_options = {'train_cfg.max_iters': 7}
    args.work_dir = str(tmp_path / 'work')
    cfg = tools.load_config(args)
    assert cfg.train_cfg.max_iters == 7 and cfg.work_dir == args.work_dir
    assert cfg.launcher == 'none' and cfg.filename == config

    dumped = tmp_path / 'dumped.py'
    cfg.dump(str(dumped))
    # Not yapf's layout (the slow part), but the same config.
    formatted = Config(cfg.to_dict(), filename=config)
    assert dumped.read_text() != formatted.pretty_text
    assert Config.fromfile(str(dumped)).to_dict() == cfg.to_dict()


def test_default_work_dir_is_named_after_the_config(repo_root):
    tools = _runner_args(repo_root)
    config = osp.join(repo_root, 'configs', 'psalm', 'psalm_tiny_phi_joint.py')
    assert tools.load_config(_args(config)).work_dir == osp.join('./work_dirs',
                                                                  'psalm_tiny_phi_joint')


def test_missing_config_is_named(repo_root, tmp_path):
    tools = _runner_args(repo_root)
    missing = str(tmp_path / 'nope.py')
    with pytest.raises(FileNotFoundError, match='nope.py'):
        tools.load_config(_args(missing))
