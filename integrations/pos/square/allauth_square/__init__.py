"""A tiny Django app that registers our Square provider with django-allauth
(allauth ships none for Square). Its `provider.py` is what allauth's registry
imports; the classes themselves live in `integrations.pos.square.oauth`."""
