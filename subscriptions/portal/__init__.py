"""The consumer portal's rules: links (make, revoke, open, what one shows) and the sites that may frame the portal.
The pages themselves are the `portal` app's."""
