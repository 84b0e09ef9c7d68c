"""Keyset (cursor) pagination for every list: stable under inserts and no
OFFSET scans on million-row tables. A list API sets
`pagination_class = CursorPagination` so drf-spectacular documents the
`cursor`/`page_size` parameters and the `{next, previous, results}` page."""
from rest_framework.pagination import CursorPagination as BaseCursorPagination


class CursorPagination(BaseCursorPagination):
    ordering = "-created_at"
    page_size_query_param = "page_size"
    max_page_size = 200
