"""Add-secret requests: secret types, user data, CUID, NAME.yaml and the request builder."""
