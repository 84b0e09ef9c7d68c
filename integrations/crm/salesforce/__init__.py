"""Salesforce CRM connector (issue 7): web + JWT bearer OAuth, SOQL sync, outbound messages, write-back."""
