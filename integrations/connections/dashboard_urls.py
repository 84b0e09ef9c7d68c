"""/dashboard/connections/…: the merchant's connection pages (connect, settings, sync)."""
urlpatterns = []
