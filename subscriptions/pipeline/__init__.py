"""The pipeline: recording events and their deliveries in one transaction (the outbox), the routing cache, HTTP ingest."""
