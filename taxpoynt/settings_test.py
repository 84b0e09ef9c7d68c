"""Test settings: the real PostgreSQL and Redis (started by `make test`).
Each parallel checkout may point DATABASE_URL at its own database name."""
import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/taxpoynt")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")

from .settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING["root"]["level"] = os.environ.get("LOG_LEVEL", "WARNING")  # noqa: F405
