"""Helpers shared by the tests: not test modules, so pytest collects nothing here.

Test modules import from this package (and get fixtures from ``conftest.py``); they never
import each other (``tests/test_architecture.py`` checks it).
"""
