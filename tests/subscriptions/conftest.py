"""Fixtures of the broker tests: a Broker with unique exchange/queue names per test, removed afterwards."""

import pytest

from tests.subscriptions.broker_helpers import Broker


@pytest.fixture
def broker():
    broker = Broker()
    yield broker
    broker.delete()
