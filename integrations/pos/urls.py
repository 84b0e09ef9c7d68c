"""/api/v1/pos/… routes (POS connect, locations, transactions, analytics)."""
urlpatterns = []
