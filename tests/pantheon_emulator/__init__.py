"""A local emulator of the Pantheon platform (API, environment web, appserver SSH).

Test-only package: it lives under ``tests/`` and is not shipped with the collection.
See ``README.md`` next to this file.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
