from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from taxpoynt.tenancy.models import Organization
from taxpoynt.tenancy.selectors import current_organization, organization_list

from .selectors import overview_for_organization


@login_required
def overview(request):
    org = current_organization(request=request)
    if org is None:
        return render(request, "dashboard/no_organization.html", status=403)
    return render(request, "dashboard/overview.html", {"organization": org, **overview_for_organization(organization=org)})


@login_required
@require_POST
def switch_organization(request):
    org_id = request.POST.get("organization_id", "")
    try:
        org = organization_list(user=request.user).get(pk=org_id)
    except (Organization.DoesNotExist, ValueError, Exception):
        messages.error(request, "You are not a member of that organization.")
        return redirect("dashboard:overview")
    request.session["organization_id"] = str(org.pk)
    messages.success(request, f"Now showing {org.name}.")
    return redirect("dashboard:overview")
