"""The hook tests' shared fixture: a git + art repository with art's hooks installed."""

import pytest

from tests.hooks.helpers import art, new_repo


@pytest.fixture
def repo(tmp_path):
    path = new_repo(tmp_path / "repo")
    art(path, "install", "-q")
    return path
