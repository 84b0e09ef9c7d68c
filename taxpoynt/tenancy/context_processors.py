from . import selectors


def current_organization(request):
    """Template context: the org being shown and the user's orgs (org switcher)."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "current_organization": selectors.current_organization(request=request),
        "user_organizations": selectors.organization_list(user=request.user),
    }
