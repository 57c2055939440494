"""Request guards that hold for every page and API call, before any view runs."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import JsonResponse
from django.utils.decorators import sync_and_async_middleware

from eventhub.api import error_body


def _has_nul(request):
    query = request.META.get("QUERY_STRING", "")
    return "%00" in query or "\x00" in query


def _refusal():
    body = error_body(400, "The query string holds a NUL character (%00), which no parameter may contain.")
    return JsonResponse(body, status=400)


@sync_and_async_middleware
def reject_nul_characters(get_response):
    """A NUL in a query parameter would reach the database, which refuses it (a 500): answer 400 instead."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            return _refusal() if _has_nul(request) else await get_response(request)

        return markcoroutinefunction(middleware)

    def middleware(request):
        return _refusal() if _has_nul(request) else get_response(request)

    return middleware
