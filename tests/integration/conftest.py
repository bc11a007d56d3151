"""Integration tests keep their run history in a database of their own, never in the user's."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _history_of_the_test_session(tmp_path_factory):
    os.environ["SOCLE_HISTORY"] = str(tmp_path_factory.mktemp("history") / "history.sqlite")
    yield
    os.environ.pop("SOCLE_HISTORY", None)
