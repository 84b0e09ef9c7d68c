from django import forms

from taxpoynt.tenancy.selectors import organization_list


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “ERP export job”.")
    organization = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="All my organizations",
        help_text="Limit the token to one organization (recommended for integrations).",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organization_list(user=user)
