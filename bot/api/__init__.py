"""REST API v1 (SPEC §10): token auth, request validation, handlers and the OpenAPI document."""
