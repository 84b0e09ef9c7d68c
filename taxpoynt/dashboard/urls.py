from django.urls import path

from . import views

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("organization/switch", views.switch_organization, name="switch-organization"),
]
