"""Fixtures for sign-in tests: a cheap argon2 hasher (users are made and sign in often)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from people import users


@pytest.fixture(autouse=True)
def cheap_hasher() -> Iterator[None]:
    users.use_hasher(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    yield
    users.use_hasher(PasswordHasher())
