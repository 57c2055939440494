"""What every API answer shares: the one error shape (Emporix's ErrorMessage) and a JSON parser with bounded size
and depth."""

import logging
from datetime import timezone as dt_timezone
from http import HTTPStatus

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from eventhub import json_limits
from eventhub.conf import hub_setting


logger = logging.getLogger(__name__)

SERVER_ERROR_MESSAGE = "A server-side exception occurred that prevented the system from correctly returning the result."
# The 401 of Emporix's API gateway (the spec's Unauthorized_401), given beside the ErrorMessage fields.
INVALID_TOKEN_CODE = "oauth.v2.InvalidAccessToken"


def error_body(code, message, problems=()):
    """Emporix's ErrorMessage, the shape of every error the API returns: {code, status (the HTTP reason phrase,
    "Bad Request"), message, details (one string per problem, "field: message")}, and `problems`, the same problems
    as [{field, message}] for a program to find the field. `problems` are {field, message} dicts."""
    problems = [{"field": p["field"], "message": p["message"]} for p in problems]
    return {
        "code": code,
        "status": HTTPStatus(code).phrase,
        "message": message,
        "details": [f"{p['field']}: {p['message']}" if p["field"] else p["message"] for p in problems],
        "problems": problems,
    }


def error_response(code, message, problems=(), headers=None):
    body = error_body(code, message, problems)
    if code == 401:
        # Clients written against Emporix read the gateway's form; others read the ErrorMessage fields.
        body["fault"] = {"faultstring": message, "detail": {"errorcode": INVALID_TOKEN_CODE}}
    return Response(body, status=code, headers=headers)


def flatten_details(detail, path=""):
    """Flatten DRF's nested error detail into [{field, message}] entries."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            field = key if key != "non_field_errors" else ""
            out += flatten_details(value, f"{path}.{field}" if path and field else (field or path))
        return out
    if isinstance(detail, list):
        if all(not isinstance(d, (dict, list)) for d in detail):
            return [{"field": path, "message": str(d)} for d in detail]
        out = []
        for index, value in enumerate(detail):
            out += flatten_details(value, f"{path}[{index}]")
        return out
    return [{"field": path, "message": str(detail)}]


def exception_handler(exc, context):
    from rest_framework.views import set_rollback

    set_rollback()  # as DRF's own handler does: an error leaves nothing of an atomic request behind
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, SuspiciousOperation):
        # Django answers these 400 (a malformed query string reaching the token check, say); so do we.
        logging.getLogger("django.security").warning("%s", exc)
        exc = exceptions.ParseError(str(exc) or None)
    if not isinstance(exc, exceptions.APIException):
        # A real bug: logged with its traceback, answered as an ErrorMessage (never Django's HTML page).
        request = context.get("request")
        logger.error("Internal Server Error: %s", getattr(request, "path", "?"), exc_info=exc)
        return error_response(500, SERVER_ERROR_MESSAGE)

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    code = exc.status_code
    if isinstance(exc, exceptions.ValidationError):
        details = flatten_details(exc.detail)
        message = details[0]["message"] if len(details) == 1 and not details[0]["field"] else "The request is not valid."
        if len(details) == 1 and details[0]["field"]:
            message = f"{details[0]['field']}: {details[0]['message']}"
        return error_response(code, message, details, headers)
    detail = exc.detail
    if isinstance(detail, (list, dict)):
        return error_response(code, "The request is not valid.", flatten_details(detail), headers)
    return error_response(code, str(detail), (), headers)


API_PREFIXES = ("/webhook/",)


def _is_api(request):
    return request.path_info.startswith(API_PREFIXES)


def page_not_found(request, exception=None):
    """Django's handler404: an API path Django's URLs do not know gets an ErrorMessage, the dashboard its page."""
    if _is_api(request):
        return JsonResponse(error_body(404, f"No resource at {request.path_info}."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """Django's handler500, for an error outside DRF's exception_handler (a middleware, URL resolving)."""
    if _is_api(request):
        return JsonResponse(error_body(500, SERVER_ERROR_MESSAGE), status=500)
    return defaults.server_error(request)


class BodyTooLarge(exceptions.ParseError):
    pass


class BoundedJSONParser(JSONParser):
    """JSON bodies up to EVENTHUB MAX_BODY_BYTES; anything larger, malformed or too deep is a clear 400, and so is
    text or a number no database keeps (a lone surrogate, NUL, NaN, 1e400), naming where it sits (`[0].data.x`)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = hub_setting("MAX_BODY_BYTES")
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"The request body is larger than {limit} bytes ({limit // 1024} KiB).")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise BodyTooLarge(f"The request body is larger than {limit} bytes ({limit // 1024} KiB).")
        try:
            text = raw.decode("utf-8")
            return json_limits.loads(text, refuse_nul=True)
        except UnicodeDecodeError:
            raise exceptions.ParseError("The request body is not UTF-8.")
        except json_limits.NestedTooDeeply as exc:
            raise exceptions.ParseError(f"The request body is nested too deeply (more than {exc.limit} levels).")
        except json_limits.Unstorable as exc:
            raise exceptions.ValidationError(problems_by_field(exc.details()))
        except ValueError as exc:
            raise exceptions.ParseError(f"The request body is not valid JSON: {exc}")


def problems_by_field(details):
    """[{field, message}] -> {field: [message, ...]}, the detail a ValidationError carries (one field may have several)."""
    by_field = {}
    for item in details:
        by_field.setdefault(item["field"], []).append(item["message"])
    return by_field


__all__ = ["error_body", "error_response", "exception_handler", "BoundedJSONParser", "iso_ms", "utc_datetime", "status"]


def iso_ms(value):
    """ISO 8601 in UTC with milliseconds and Z, as the Emporix API writes timestamps. isoformat (C, four-digit years
    always) rather than strftime: 10 -> 4 µs, and every event's envelope and every listed row writes one."""
    return value.astimezone(dt_timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"


class NotADateTime(ValueError):
    """str() says what is wrong, for the field that held it."""


def utc_datetime(text):
    """An ISO 8601 date-time with a time zone, in UTC, as every stored time is; NotADateTime when `text` is not one or
    falls outside the years 1 to 9999 once in UTC (9999-12-31T23:59:59-14:00 is in year 10000): Python, and so both
    databases' adapters, cannot hold it. The one reading of date-times from outside (bodies and query parameters)."""
    from django.utils.dateparse import parse_datetime

    try:
        value = parse_datetime(text) if isinstance(text, str) else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise NotADateTime("Must be an ISO 8601 date-time with a time zone, e.g. 2026-01-31T12:00:00.000Z.")
    try:
        # In UTC also because databases accept only some offsets (PostgreSQL refuses +18:09).
        return value.astimezone(dt_timezone.utc)
    except (OverflowError, ValueError):
        raise NotADateTime("Is out of the range of date-times this hub can store (years 1 to 9999 in UTC).") from None
