"""Domain errors. Services raise these; the API and dashboard turn them into a
4xx with the message (HackSoft's ApplicationError)."""


class ApplicationError(Exception):
    def __init__(self, message, *, extra=None, code="invalid"):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        self.code = code
