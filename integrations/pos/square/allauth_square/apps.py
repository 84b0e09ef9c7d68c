from django.apps import AppConfig


class AllauthSquareConfig(AppConfig):
    name = "integrations.pos.square.allauth_square"
    label = "allauth_square"
    verbose_name = "Square (allauth provider)"
