"""Keyset (cursor) pagination for every list: stable under inserts and no
OFFSET scans on million-row tables. A list API sets
`pagination_class = CursorPagination` so drf-spectacular documents the
`cursor`/`page_size` parameters and the `{next, previous, results}` page."""
from rest_framework.pagination import CursorPagination as BaseCursorPagination


class CursorPagination(BaseCursorPagination):
    ordering = "-created_at"
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_paginated_response_schema(self, schema):
        # Our own link examples in the docs (DRF's show api.example.org/accounts).
        response = super().get_paginated_response_schema(schema)
        response["properties"]["next"]["example"] = (
            "https://app.taxpoynt.com/api/v1/invoices?cursor=cD0yMDI2LTExLTAyKzA4JTNBNTElM0EwMi4xMTA0MTUlMkIwMCUzQTAw")
        response["properties"]["previous"]["example"] = (
            "https://app.taxpoynt.com/api/v1/invoices?cursor=cj0xJnA9MjAyNi0xMS0wMiswOSUzQTE0JTNBMjcuNTEyMDM0")
        response["required"] = ["next", "previous", "results"]
        return response
