from django.urls import path

from . import views

app_name = "apitokens"
urlpatterns = [
    path("", views.token_list_view, name="list"),
    path("<uuid:token_id>/revoke", views.token_revoke_view, name="revoke"),
]
