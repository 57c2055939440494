"""Request guards that hold for every page and API call, before any view runs."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.utils.decorators import sync_and_async_middleware

from eventhub.api import error_body

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _nul_problem(request):
    """(field, message) for the first NUL in the path, a query parameter or a form field, else None.
    A NUL reaches the database, which refuses it on PostgreSQL (a 500) and keeps it on SQLite."""
    if "\x00" in request.path_info:
        return "path", "The path holds a NUL character (%00), which no segment may contain."
    query = request.META.get("QUERY_STRING", "")
    if "%00" in query or "\x00" in query:
        found = _field_with_nul(request.GET, "query parameter")
        if found:
            return found
    if request.content_type in FORM_TYPES and request.method not in ("GET", "HEAD", "OPTIONS"):
        try:
            return _field_with_nul(request.POST, "form field")
        except (MultiPartParserError, UnreadablePostError):
            return None  # a body that cannot be read is the view's to refuse, as before
    return None


def _field_with_nul(params, where):
    for name, values in params.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            shown = name.replace("\x00", "\\u0000")
            return shown, f"The {where} '{shown}' holds a NUL character (%00), which the hub cannot store."
    return None


def _refusal(problem):
    field, message = problem
    return JsonResponse(error_body(400, message, [{"field": field, "message": message}]), status=400)


@sync_and_async_middleware
def reject_nul_characters(get_response):
    """A NUL in the path, a query parameter or a form field is answered 400 before any view sees it."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            problem = _nul_problem(request)
            return _refusal(problem) if problem else await get_response(request)

        return markcoroutinefunction(middleware)

    def middleware(request):
        problem = _nul_problem(request)
        return _refusal(problem) if problem else get_response(request)

    return middleware
