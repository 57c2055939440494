"""Paging of the API's lists: ?pageNumber=1&pageSize=50, as the Emporix APIs page. The body stays a bare JSON list.

DRF's PageNumberPagination names the parameters and bounds the size; two things differ from its defaults, on
purpose, because clients rely on them: a bad pageNumber or pageSize is a 400 in the common error shape (DRF would
quietly use the default size, or answer 404), and a page past the end is an empty list, found by slicing, without
the COUNT query Django's Paginator runs on every request. Only lists that promise a total (dead letters) count,
and say it in X-Total-Count.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response


class Pagination(PageNumberPagination):
    page_query_param = "pageNumber"
    page_size_query_param = "pageSize"
    page_size = 50
    max_page_size = 200
    max_page_number = 10_000  # the bound keeps every answer cheap: no OFFSET of millions of rows
    total_header = None  # e.g. "X-Total-Count": count the whole list and send it in this header

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        size = self.get_page_size(request)
        number = self._whole_number(request, self.page_query_param, 1, self.max_page_number)
        self.total = queryset.count() if self.total_header else None
        start = (number - 1) * size
        return list(queryset[start:start + size])

    def get_page_size(self, request):
        return self._whole_number(request, self.page_size_query_param, self.page_size, self.max_page_size)

    def get_paginated_response(self, data):
        headers = {self.total_header: str(self.total)} if self.total_header else None
        return Response(data, headers=headers)

    @classmethod
    def parameters(cls):
        """The query parameters, for extend_schema(parameters=...) on views that page by hand (APIView)."""
        return [
            OpenApiParameter(cls.page_query_param, OpenApiTypes.INT, description="1-based page number (default 1)"),
            OpenApiParameter(cls.page_size_query_param, OpenApiTypes.INT,
                             description=f"items per page (default {cls.page_size}, at most {cls.max_page_size})"),
        ]

    @staticmethod
    def _whole_number(request, name, default, upper):
        raw = request.query_params.get(name)
        if raw is None:
            return default
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= upper:  # "²" is a digit, not a number
            raise ValidationError({name: [f"Must be a whole number from 1 to {upper}."]})
        return int(raw)


class CountedPagination(Pagination):
    """For lists whose total a client pages through to the end (dead letters): the total in X-Total-Count."""

    max_page_number = 1_000_000
    total_header = "X-Total-Count"
