"""What every /webhook/{tenant}/... view shares: the tenant from the token, paging, list bodies, CSV parameters."""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.views import APIView

from eventhub.conf import hub_setting
from subscriptions.api.pagination import Pagination
from subscriptions.api.serializers import ErrorSerializer

# Every operation may answer these (a 500 too: an ErrorMessage, never an HTML page).
ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 500: ErrorSerializer}
NOT_FOUND = {404: ErrorSerializer}


class TenantAPIView(APIView):
    """Base for /webhook/{tenant}/...: HasTenantScope has checked the tenant against the token."""

    @property
    def tenant(self):
        return self.request.user.tenant

    pagination_class = Pagination

    def tenant_object(self, queryset, pk, label):
        """The tenant's row of `queryset` with this primary key; a 404 naming it when there is none or the key is
        malformed (a UUID that is not one, a number that is not)."""
        try:
            return queryset.filter(tenant=self.tenant).get(pk=pk)
        except (ObjectDoesNotExist, DjangoValidationError, ValueError, TypeError):
            raise NotFound(f"{label} '{pk}' does not exist.")

    def paged_response(self, queryset, serializer_class, **context):
        """One page of the queryset (pageNumber, pageSize), rendered by the output serializer; a bare list."""
        paginator = self.pagination_class()
        rows = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(rows, many=True, context=context).data)


def list_body(request):
    """The body as a list of objects of bounded length, or a 400 in the common error shape."""
    data = request.data
    limit = hub_setting("MAX_BATCH_ITEMS")
    if not isinstance(data, list):
        raise ValidationError("The body must be a JSON list of objects.")
    if len(data) > limit:
        raise ValidationError(f"The body holds {len(data)} items; at most {limit} are allowed in one request.")
    bad = [index for index, item in enumerate(data) if not isinstance(item, dict)]
    if bad:
        raise ValidationError({f"[{index}]": ["Expected an object."] for index in bad[:20]})
    return data


def csv_param(request, name):
    raw = request.query_params.get(name, "")
    return [part.strip() for part in raw.split(",") if part.strip()]
