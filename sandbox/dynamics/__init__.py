"""A local Dataverse org (see ``sandbox``): ``schema`` (tables), ``odata`` (query options), ``batch``
(``$batch`` multipart), ``auth`` (the Entra token endpoint over TLS), ``webhooks`` (execution
contexts), ``api`` (routes)."""

from .sandbox import DynamicsSandbox

Sandbox = DynamicsSandbox  # what ``sandbox.sandbox_class("dynamics")`` finds

__all__ = ["DynamicsSandbox", "Sandbox"]
