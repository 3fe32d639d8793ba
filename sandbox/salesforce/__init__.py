"""A local Salesforce org (see ``sandbox``): ``store`` (records, field-level security), ``soql``,
``validate`` (custom field rules), ``auth`` (RS256 JWT), ``webhooks`` (Outbound Messages), ``api`` (routes)."""

from .sandbox import SalesforceSandbox

Sandbox = SalesforceSandbox  # what ``sandbox.sandbox_class("salesforce")`` finds

__all__ = ["SalesforceSandbox", "Sandbox"]
