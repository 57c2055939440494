"""Every OAuth2 scope the hub knows, with what it grants (the one list the API and the token server read)."""

SCOPES = {
    "webhook.subscription_read": "Read the event catalog, the tenant's event subscriptions, webhook configuration and statistics.",
    "webhook.subscription_manage": "Subscribe to and unsubscribe from event types, choose excluded fields, change the webhook configuration.",
    "webhook.eventtype_manage": "Register, change and remove the tenant's custom event types.",
    "webhook.endpoint_read": "Read webhook endpoints, deliveries and attempts.",
    "webhook.endpoint_manage": "Create, change, test and remove webhook endpoints; retry and replay deliveries.",
    "webhook.event_publish": "Publish events over HTTP.",
    "webhook.event_read": "Read stored events.",
    "webhook.source_read": "Read broker sources and dead-lettered messages.",
    "webhook.source_manage": "Create, change and remove broker sources; re-drive dead letters.",
    "webhook.monitor_read": "Watch the live monitor stream.",
}


def unknown_scopes(scopes):
    return sorted(set(scopes) - SCOPES.keys())
