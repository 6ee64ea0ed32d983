"""PSALM for MMDetection.

Importing the package registers its modules in mmdet's registries (configs do it through
``custom_imports=dict(imports=['psalm'])``) and allow-lists mmengine's checkpoint contents for
torch's safe loading.
"""
from .utils import register_mmengine_safe_globals
from .version import __version__

register_mmengine_safe_globals()

from .datasets import *  # noqa: F401,F403,E402
from .engine import *  # noqa: F401,F403,E402
from .evaluation import *  # noqa: F401,F403,E402
from .models import *  # noqa: F401,F403,E402
from .visualization import *  # noqa: F401,F403,E402

__all__ = ['__version__', 'register_mmengine_safe_globals']
