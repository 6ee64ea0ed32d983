"""Stand-alone scripts imported as modules."""
import pickle
import sys

import pytest

from psalm.utils import import_script


def test_imports_registers_and_reuses(tmp_path):
    path = tmp_path / 'psalm_test_script_a.py'
    path.write_text('def double(x):\n    return 2 * x\n')
    module = import_script(str(path))
    try:
        assert module.double(3) == 6
        assert sys.modules['psalm_test_script_a'] is module
        assert pickle.loads(pickle.dumps(module.double)) is module.double  # workers can unpickle
        path.write_text('def double(x):\n    return 0\n')
        assert import_script(str(path)) is module  # already imported: not run again
    finally:
        sys.modules.pop('psalm_test_script_a', None)


def test_own_name(tmp_path):
    path = tmp_path / 'tool.py'
    path.write_text('VALUE = 1\n')
    try:
        assert import_script(str(path), 'psalm_test_script_b').VALUE == 1
        assert 'tool' not in sys.modules or sys.modules['tool'].__file__ != str(path)
    finally:
        sys.modules.pop('psalm_test_script_b', None)


def test_another_module_under_the_name_is_refused(tmp_path):
    path = tmp_path / 'json.py'  # the stem of a standard-library module
    path.write_text('VALUE = 1\n')
    with pytest.raises(ImportError, match='json'):
        import_script(str(path))
    assert import_script(str(path), 'psalm_test_script_d').VALUE == 1
    sys.modules.pop('psalm_test_script_d', None)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.py'):
        import_script(str(tmp_path / 'nope.py'))


def test_a_failing_script_is_not_left_registered(tmp_path):
    path = tmp_path / 'psalm_test_script_c.py'
    path.write_text('raise RuntimeError("broken on purpose")\n')
    with pytest.raises(RuntimeError, match='broken on purpose'):
        import_script(str(path))
    assert 'psalm_test_script_c' not in sys.modules
