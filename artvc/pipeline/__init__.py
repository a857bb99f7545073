"""Pipelines: ``art.toml`` stages (``art repro``) and Python pipelines (``flow``).

``from artvc import pipeline`` names this package, which is callable so that it doubles as the ``@pipeline``
decorator of Python pipelines (``flow.pipeline``): ``@pipeline`` and ``@pipeline(name=...)`` both work, however
the package was imported first.
"""

import sys
import types


class _DecoratorPackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from .flow import pipeline

        return pipeline(*args, **kwargs)


sys.modules[__name__].__class__ = _DecoratorPackage
