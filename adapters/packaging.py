"""What every CRM package builder shares: the facts about one connection it is made for, and writing it out.

A builder (``adapters/<crm>/package.py``) turns a ``PackageContext`` into files (relative path -> bytes),
generated from ``adapters.fields`` so a field is never spelled twice; ``write_package`` puts them in a
directory, or in a zip for CRMs that import archives (Dataverse solutions).
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .fields import CEM_FIELDS, FieldSpec

VERSION = "1.0.0"
TEMPLATES = "templates"  # each builder's template files live in adapters/<crm>/templates/


class PackageError(ConfigurationError):
    """The package cannot be built as asked (the message says what to change)."""


@dataclass(frozen=True)
class PackageContext:
    connection_id: int
    public_url: str  # where the CRM reaches the connector (CEM_PUBLIC_URL), https in production
    settings: Mapping[str, Any] = field(default_factory=dict)  # the connection's non-secret settings
    account_id: str | None = None
    card_credential: str | None = None  # what a browser-side record view presents (Dynamics), never a secret
    version: str = VERSION
    # The CEM fields as the engine config shapes them: the Churn Reason picklist lists the configured reasons.
    fields: Sequence[FieldSpec] = CEM_FIELDS

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/")

    def summary_url(self, platform: str) -> str:
        return f"{self.base_url}/cards/{platform}/{self.connection_id}/summary"

    def webhook_url(self, platform: str) -> str:
        return f"{self.base_url}/webhooks/{platform}/{self.connection_id}"

    def require_https(self, crm: str) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme != "https" or parts.hostname in (None, "localhost", "127.0.0.1"):
            raise PackageError(f"{crm} only calls public https URLs; set CEM_PUBLIC_URL to the connector's "
                               f"public address (now '{self.base_url}').")


class CRMPackage(Protocol):
    archive: ClassVar[bool]  # True: written as one .zip file
    next_step: ClassVar[str]  # what the admin does with it, printed after writing

    def files(self, context: PackageContext) -> dict[str, bytes]: ...


def template(package_file: str, name: str) -> str:
    """A template file beside the builder module (``__file__`` of adapters/<crm>/package.py)."""
    return (Path(package_file).parent / TEMPLATES / name).read_text(encoding="utf-8")


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace ``__KEY__`` placeholders; a placeholder left over is a bug in the builder, not the admin's."""
    for key, value in values.items():
        text = text.replace(f"__{key}__", value)
    if "__CEM_" in text:
        raise PackageError(f"Unfilled placeholder in template near: {text[text.index('__CEM_'):][:40]}")
    return text


def write_package(package: CRMPackage, context: PackageContext, output: Path) -> list[Path]:
    """Write the package to ``output`` (a directory, or a .zip file for archive packages); returns what was written.

    An existing non-empty directory is refused rather than merged into, so stale files never ship."""
    files = package.files(context)
    if package.archive:
        target = output if output.suffix == ".zip" else output.with_suffix(".zip")
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, content in files.items():
                archive.writestr(name, content)
        return [target]
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise PackageError(f"{output} already exists and is not empty; choose a new directory.")
    written = []
    for name, content in files.items():
        path = output / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)
    return written
