from django.http import JsonResponse
from django.views.decorators.http import require_GET

from finops.selectors.health import health_status


@require_GET
def healthz(request):
    """Liveness for load balancers: database and broker state, no authentication."""
    body, healthy = health_status()
    return JsonResponse(body, status=200 if healthy else 503)
