"""The API docs pages (Swagger UI, Redoc), served from the sidecar's files under a Content-Security-Policy.

Swagger UI's start-up script is fetched as a file of its own (drf-spectacular's split view), so no inline script
is needed; the page's few rules are in a stylesheet. Redoc styles itself by inserting <style> elements at run
time, so its page alone allows inline style (never inline script). Both draw icons from data: images. Neither
loads anything from the internet: Redoc's "API docs by Redocly" logo, which it links from its CDN, is refused.
"""

from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView


@method_decorator(csp_update({"img-src": ["data:"]}), name="dispatch")
class SwaggerDocsView(SpectacularSwaggerSplitView):
    template_name = "api_docs/swagger_ui.html"


@method_decorator(csp_update({"style-src": ["'unsafe-inline'"], "img-src": ["data:"], "worker-src": ["blob:"]}), name="dispatch")
class RedocDocsView(SpectacularRedocView):
    template_name = "api_docs/redoc.html"
