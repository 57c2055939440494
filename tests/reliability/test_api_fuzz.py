"""Hostile input against every documented operation: schemathesis generates requests from the OpenAPI schema, valid
and not, and no answer may be a 5xx. The tenant path parameter is pinned to a real tenant with a full-scope token, so
fuzzed bodies and parameters reach the validation and business rules instead of stopping at the door.

(schemathesis' own pytest plugin does not run under pytest 9, so its hypothesis strategies are driven directly.)"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tenants.scopes import SCOPES
from tenants.services import issue_token

EXAMPLES_PER_OPERATION = 25


def load_schema():
    schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    schema.app = get_wsgi_application()
    return schema


@pytest.fixture
def keep_test_connection():
    """As Django's test client does: the WSGI handler must not close the test's database connection after each
    request (it would, inside the test's transaction, on PostgreSQL)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def operations():
    return [result.ok() for result in load_schema().get_all_operations()]


@pytest.mark.django_db
@pytest.mark.parametrize("operation", operations(), ids=lambda op: op.label)
def test_no_operation_answers_with_a_server_error(operation, tenant, keep_test_connection):
    headers = {"Authorization": f"Bearer {issue_token(tenant, list(SCOPES))}"}

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def check(case):
        if case.path_parameters and "tenant" in case.path_parameters:
            case.path_parameters["tenant"] = tenant.name
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    check()
