"""Read by django-allauth's provider registry (`provider_classes`)."""
from integrations.pos.square.oauth import SquareConnectProvider

provider_classes = [SquareConnectProvider]
