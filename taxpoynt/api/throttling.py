"""API throttles: one budget per caller (API token, or user for browser
sessions, or client IP when anonymous) and one per organization (shared by
every token and user acting in it). Rates come from REST_FRAMEWORK
DEFAULT_THROTTLE_RATES (scopes "caller" and "organization", env-overridable in
settings). A refused request answers 429 with Retry-After and the standard
error body (code "throttled").

Counting is a fixed window per key with an atomic cache INCR (Redis in
production and tests). DRF's SimpleRateThrottle keeps a timestamp list per
key with a read-modify-write, which loses counts when 20 clients of one
organization hit different workers at once; an INCR cannot. The price is a
possible burst of twice the rate across a window boundary, which is fine for
abuse protection.

Only paths under /api/ are counted: vendor webhooks (under /webhooks/, with
their own signature checks) must never be refused by these budgets.
"""
import math
import time

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from taxpoynt.tenancy.selectors import organization_ids_for_user

API_PATH_PREFIX = "/api/"


class FixedWindowRateThrottle(SimpleRateThrottle):
    """Base: subclasses name a `scope` and return the keys a request counts against."""

    cache = cache

    def __init__(self):
        # The rate is read per request (not at import as DRF does) so settings overrides apply.
        self.rate = None
        self._wait = None

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def keys(self, request) -> list[str]:
        raise NotImplementedError

    def allow_request(self, request, view):
        if not request.path.startswith(API_PATH_PREFIX):
            return True
        self.rate = self.get_rate()
        if not self.rate:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        now = time.time()
        window = int(now // self.duration)
        for key in self.keys(request):
            count = self._count(f"throttle:{self.scope}:{key}:{window}", self.duration + 1)
            if count > self.num_requests:
                self._wait = max(1, math.ceil((window + 1) * self.duration - now))
                return False
        return True

    def wait(self):
        return self._wait

    def _count(self, key: str, ttl: int) -> int:
        """Atomically add one to `key` (expiring after `ttl` s) and return the new count."""
        client = getattr(self.cache, "client", None)
        if hasattr(client, "get_client"):  # django-redis: INCR + EXPIRE in one round trip
            full_key = self.cache.make_key(key)
            pipe = client.get_client(write=True).pipeline(transaction=False)
            pipe.incr(full_key)
            pipe.expire(full_key, ttl)
            return pipe.execute()[0]
        self.cache.add(key, 0, timeout=ttl)  # other cache backends (the SQLite demo: local memory)
        try:
            return self.cache.incr(key)
        except ValueError:  # expired between add and incr
            self.cache.set(key, 1, timeout=ttl)
            return 1


class CallerRateThrottle(FixedWindowRateThrottle):
    """Per API token; per user for session (browser) calls; per IP when anonymous."""

    scope = "caller"

    def keys(self, request):
        token_id = getattr(request.auth, "pk", None)
        if token_id is not None:
            return [f"token:{token_id}"]
        if request.user and request.user.is_authenticated:
            return [f"user:{request.user.pk}"]
        return [f"ip:{self.get_ident(request)}"]


class OrganizationRateThrottle(FixedWindowRateThrottle):
    """Per organization the caller acts in: the token's organization when the
    token is limited to one, else each organization of the user's memberships."""

    scope = "organization"

    def keys(self, request):
        if not (request.user and request.user.is_authenticated):
            return []
        # For an organization-limited token the authentication class has already
        # narrowed this list to that one organization.
        return [f"org:{org_id}" for org_id in organization_ids_for_user(user=request.user)]
