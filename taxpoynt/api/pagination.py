from rest_framework.pagination import CursorPagination as BaseCursorPagination


class CursorPagination(BaseCursorPagination):
    """Stable keyset pagination for large lists (no OFFSET scans)."""

    ordering = "-created_at"
    page_size_query_param = "page_size"
    max_page_size = 200
