"""The broker fixture of the subscriptions tests, shared here (a Broker with unique names per test)."""

from tests.subscriptions.conftest import broker  # noqa: F401
