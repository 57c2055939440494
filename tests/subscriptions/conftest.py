"""Fixtures of the broker tests: a Broker with unique exchange/queue names per test, removed afterwards."""

import pytest

from tests.conftest import SERVICE_URLS
from tests.subscriptions.broker_helpers import Broker


@pytest.fixture
def broker():
    broker = Broker(SERVICE_URLS["rabbitmq"])  # AMQP_URL when set (its vhost), else the local default
    yield broker
    broker.delete()
