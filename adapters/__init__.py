"""CRM adapters: one module per platform behind the contract in ``adapters.base``."""
