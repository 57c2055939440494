"""The broker side: the RabbitMQ dispatcher, tenant sources (bindings and rules), dead letters."""
