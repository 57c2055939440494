"""The live event viewer page: a shell; the rows arrive over the websocket (consumers.py)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from eventhub.conf import hub_setting
from monitor.filters import OUTCOMES
from tenants.access import require_membership


@login_required
def live(request, tenant):
    membership = require_membership(request.user, tenant)  # a non-member gets a 404: the tenant is not revealed
    return render(
        request,
        "monitor/live.html",
        {
            "tenant": membership.tenant,
            "ws_path": f"/ws/monitor/{membership.tenant.name}/",
            "outcomes": OUTCOMES,
            "body_limit_kib": hub_setting("MONITOR_BODY_LIMIT") // 1024,
        },
    )
