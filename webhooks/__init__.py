"""Webhook receivers: one module per CRM behind the fixed sequence in ``webhooks.base``."""
