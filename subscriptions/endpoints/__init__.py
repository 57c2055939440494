"""Webhook endpoints: writes and their secrets."""
