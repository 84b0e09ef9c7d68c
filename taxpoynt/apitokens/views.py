"""Dashboard pages: list, create (the plaintext shown once) and revoke API tokens."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from taxpoynt.errors import ApplicationError

from .forms import TokenCreateForm
from .models import ApiToken
from .selectors import token_get, token_list
from .services import token_create, token_revoke


@login_required
@never_cache
def token_list_view(request):
    if request.method == "POST":
        form = TokenCreateForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                issued = token_create(user=request.user, name=form.cleaned_data["name"],
                                      organization=form.cleaned_data["organization"])
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                # Rendered in this response only (never_cache): the plaintext is not stored anywhere.
                return render(request, "apitokens/created.html", {"token": issued.token, "plaintext": issued.plaintext},
                              status=201)
    else:
        form = TokenCreateForm(user=request.user)
    return render(request, "apitokens/list.html", {"tokens": token_list(user=request.user), "form": form})


@login_required
@require_POST
def token_revoke_view(request, token_id):
    try:
        token = token_get(user=request.user, token_id=token_id)
    except ApiToken.DoesNotExist:
        raise Http404
    token_revoke(token=token, actor=request.user)
    messages.success(request, f"Token “{token.name}” ({token.prefix}…) revoked; it no longer works.")
    return redirect("apitokens:list")
