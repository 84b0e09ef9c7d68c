"""API plumbing shared by every app's `apis.py`: the one error shape
(errors.py), pagination, throttles, the OpenAPI error component and helpers
(schema.py), the docs pages and the JSON 404 for unknown API paths (views.py).
Written for integrators in docs/api.md."""
