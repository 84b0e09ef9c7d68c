"""Remembers the request's user so signal-driven audit entries know the actor."""
import contextvars

current_actor = contextvars.ContextVar("current_actor", default=None)


class CurrentActorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = current_actor.set(getattr(request, "user", None))
        try:
            return self.get_response(request)
        finally:
            current_actor.reset(token)
