"""Delivery: the HTTP sender and its SSRF guard, the worker that claims and sends, and the actions people ask for."""
