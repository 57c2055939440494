"""The consumer portal's pages: /portal/<token>/..., opened by a portal link without an account (rules in
subscriptions/portal/)."""
