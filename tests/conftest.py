"""Shared test setup. Each fixture family lives in its own plugin module under tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.postgres",
    "tests.fixtures.org",
    "tests.fixtures.redis",
    "tests.fixtures.stores",
]
