"""``cem-connector package salesforce``: an SFDX project (source format) an admin deploys with ``sf project deploy``.

Under ``force-app/main/default`` (Metadata API types, XML in the element order of the Metadata API WSDL, which
sequences each type's elements alphabetically after ``fullName``):

* ``objects/<Contact|Lead>/fields/CEM_*__c.field-meta.xml``: CustomField, from the same CustomFieldMetadata the
  API installer (``install.py``) creates, so both paths make identical fields;
* ``permissionsets/``: ``CEM_Connector`` (read + edit, for the integration user, same name as the installer's)
  and ``CEM_Viewer`` (read only, plus the Apex the record-page component calls, for reps);
* ``layouts/``: a page layout per object with a "Customer Experience (CEM)" section (read-only fields);
* ``lwc/cemSummary``: the record-page Lightning web component (summary + framed journey map);
* ``cspTrustedSites/`` (frame-src for the journey map) and ``remoteSiteSettings/`` (Apex callouts to the connector);
* ``objects/CEM_Settings__c``: a protected hierarchy custom setting holding the webhook secret;
* ``classes/`` and ``triggers/``: Apex that signs its calls like the connector's Salesforce webhooks
  (``X-CEM-Signature``), the triggers that report Contact / Task / Case changes, and tests for coverage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from xml.etree import ElementTree as ET

from ..fields import CEM_FIELDS
from ..packaging import PackageContext, fill, template
from .install import PERMISSION_SET, PERMISSION_SET_LABEL
from .mapping import field_metadata, native_name

API_VERSION = "63.0"  # the Metadata API version of the WSDL bundled with simple-salesforce
NAMESPACE = "http://soap.sforce.com/2006/04/metadata"
ROOT = "force-app/main/default"
VIEWER_SET, VIEWER_LABEL = "CEM_Viewer", "CEM Viewer"
SETTINGS_OBJECT = "CEM_Settings__c"
SITE_NAME = "CEM_Connector"
APEX_CLASSES = ("CemConnector", "CemNotify", "CemSummaryController", "CemConnectorTest")
APEX_TRIGGERS = ("CemContactTrigger", "CemTaskTrigger", "CemCaseTrigger")
LWC = "cemSummary"
# Standard fields each object's layout must show (required ones first, as Salesforce demands them on layouts).
LAYOUT_BASICS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "Contact": (("Name", "Required"), ("AccountId", "Edit"), ("Email", "Edit"), ("Phone", "Edit"),
                ("OwnerId", "Edit")),
    "Lead": (("Name", "Required"), ("Company", "Required"), ("Status", "Required"), ("Email", "Edit"),
             ("OwnerId", "Edit")),
}


def metadata_xml(root: str, data: Mapping[str, Any]) -> bytes:
    """A Metadata API document: ``fullName`` first, then the other elements in the WSDL's (alphabetical) order;
    lists repeat the element, booleans are ``true``/``false``."""
    element = ET.Element(root, xmlns=NAMESPACE)
    _fill(element, data)
    ET.indent(element, space="    ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="utf-8") + b"\n"


def _fill(parent: ET.Element, data: Mapping[str, Any]) -> None:
    for key in sorted(data, key=lambda k: (k != "fullName", k)):
        values = data[key]
        for value in values if isinstance(values, list | tuple) else [values]:
            child = ET.SubElement(parent, key)
            if isinstance(value, Mapping):
                _fill(child, value)
            else:
                child.text = ("true" if value else "false") if isinstance(value, bool) else str(value)


def _objects(context: PackageContext) -> tuple[str, ...]:
    configured = context.settings.get("objects")
    return tuple(configured) if configured else ("Contact", "Lead")


class SalesforcePackage:
    archive: ClassVar[bool] = False
    next_step: ClassVar[str] = ("Deploy it with `sf project deploy start --source-dir force-app` "
                                "(README: 'Install inside the CRM', Salesforce).")

    def files(self, context: PackageContext) -> dict[str, bytes]:
        context.require_https("Salesforce")
        objects = _objects(context)
        files: dict[str, bytes] = {
            "sfdx-project.json": (json.dumps({
                "packageDirectories": [{"path": "force-app", "default": True}], "name": "cem-connector",
                "namespace": "", "sourceApiVersion": API_VERSION}, indent=2) + "\n").encode(),
        }
        for sobject in objects:
            for spec in context.fields:
                name = native_name(spec)
                files[f"{ROOT}/objects/{sobject}/fields/{name}.field-meta.xml"] = metadata_xml(
                    "CustomField", {"fullName": name, **field_metadata(spec)})
            if sobject in LAYOUT_BASICS:
                files[f"{ROOT}/layouts/{sobject}-CEM {sobject} Layout.layout-meta.xml"] = self._layout(sobject)
        files.update(self._permission_sets(objects))
        files.update(self._settings_object())
        files.update(self._sites(context))
        files.update(self._apex(context))
        files.update(self._lwc())
        files["README.md"] = fill(template(__file__, "README.md"), {
            "CEM_BASE_URL": context.base_url, "CEM_CONNECTION": str(context.connection_id)}).encode()
        return files

    # -- metadata ----------------------------------------------------------------------------------
    @staticmethod
    def _layout(sobject: str) -> bytes:
        basics = LAYOUT_BASICS[sobject]
        names = [native_name(spec) for spec in CEM_FIELDS]
        half = (len(names) + 1) // 2

        def column(items: Sequence[tuple[str, str]]) -> dict[str, Any]:
            return {"layoutItems": [{"behavior": behavior, "field": name} for name, behavior in items]}

        def section(label: str, left: Sequence[tuple[str, str]], right: Sequence[tuple[str, str]]) -> dict[str, Any]:
            return {"customLabel": True, "detailHeading": True, "editHeading": True, "label": label,
                    "layoutColumns": [column(left), column(right)], "style": "TwoColumnsTopToBottom"}

        return metadata_xml("Layout", {"layoutSections": [
            section(f"{sobject} Information", basics[:3], basics[3:]),
            section("Customer Experience (CEM)", [(n, "Readonly") for n in names[:half]],
                    [(n, "Readonly") for n in names[half:]]),
        ]})

    @staticmethod
    def _permission_sets(objects: Sequence[str]) -> dict[str, bytes]:
        fields = [f"{sobject}.{native_name(spec)}" for sobject in objects for spec in CEM_FIELDS]
        connector = {"label": PERMISSION_SET_LABEL, "hasActivationRequired": False,
                     "description": "Lets the CEM connector's integration user read and write the CEM fields.",
                     "fieldPermissions": [{"editable": True, "field": f, "readable": True} for f in fields]}
        viewer = {"label": VIEWER_LABEL, "hasActivationRequired": False,
                  "description": "Lets reps see the CEM fields and the CEM summary on record pages.",
                  "classAccesses": [{"apexClass": "CemSummaryController", "enabled": True}],
                  "fieldPermissions": [{"editable": False, "field": f, "readable": True} for f in fields]}
        folder = f"{ROOT}/permissionsets"
        return {f"{folder}/{PERMISSION_SET}.permissionset-meta.xml": metadata_xml("PermissionSet", connector),
                f"{folder}/{VIEWER_SET}.permissionset-meta.xml": metadata_xml("PermissionSet", viewer)}

    @staticmethod
    def _settings_object() -> dict[str, bytes]:
        base = f"{ROOT}/objects/{SETTINGS_OBJECT}"
        return {
            f"{base}/{SETTINGS_OBJECT}.object-meta.xml": metadata_xml("CustomObject", {
                "customSettingsType": "Hierarchy", "enableFeeds": False, "label": "CEM Settings",
                "description": "The CEM connector's webhook secret, for the Apex that signs calls to it.",
                "visibility": "Protected"}),
            f"{base}/fields/Webhook_Secret__c.field-meta.xml": metadata_xml("CustomField", {
                "fullName": "Webhook_Secret__c", "label": "Webhook Secret", "type": "Text", "length": 255,
                "required": False, "unique": False, "externalId": False,
                "description": "The secret `cem-connector connect salesforce` printed (or `rotate-secret` made)."}),
        }

    @staticmethod
    def _sites(context: PackageContext) -> dict[str, bytes]:
        return {
            f"{ROOT}/cspTrustedSites/{SITE_NAME}.cspTrustedSite-meta.xml": metadata_xml("CspTrustedSite", {
                "context": "LEX", "description": "Frames the CEM journey map in the cemSummary component.",
                "endpointUrl": context.base_url, "isActive": True, "isApplicableToConnectSrc": False,
                "isApplicableToFrameSrc": True, "isApplicableToImgSrc": False}),
            f"{ROOT}/remoteSiteSettings/{SITE_NAME}.remoteSite-meta.xml": metadata_xml("RemoteSiteSetting", {
                "description": "Apex callouts to the CEM connector (webhooks and record summaries).",
                "disableProtocolSecurity": False, "isActive": True, "url": context.base_url}),
        }

    @staticmethod
    def _apex(context: PackageContext) -> dict[str, bytes]:
        values = {"CEM_BASE_URL": context.base_url, "CEM_CONNECTION": str(context.connection_id),
                  "CEM_INTEGRATION_USER": str(context.settings.get("integration_user_id") or "")}
        meta = {"apiVersion": API_VERSION, "status": "Active"}
        files: dict[str, bytes] = {}
        for name in APEX_CLASSES:
            files[f"{ROOT}/classes/{name}.cls"] = fill(template(__file__, f"{name}.cls"), values).encode()
            files[f"{ROOT}/classes/{name}.cls-meta.xml"] = metadata_xml("ApexClass", meta)
        for name in APEX_TRIGGERS:
            files[f"{ROOT}/triggers/{name}.trigger"] = fill(template(__file__, f"{name}.trigger"), values).encode()
            files[f"{ROOT}/triggers/{name}.trigger-meta.xml"] = metadata_xml("ApexTrigger", meta)
        return files

    @staticmethod
    def _lwc() -> dict[str, bytes]:
        base = f"{ROOT}/lwc/{LWC}/{LWC}"
        files = {f"{base}.{ext}": template(__file__, f"{LWC}.{ext}").encode() for ext in ("js", "html", "css")}
        # Exposed on record pages; the admin drops it on the Contact / Lead page in Lightning App Builder.
        files[f"{base}.js-meta.xml"] = metadata_xml("LightningComponentBundle", {
            "apiVersion": API_VERSION, "description": "Customer experience (CEM) summary and journey map.",
            "isExposed": True, "masterLabel": "CEM Summary", "targets": {"target": ["lightning__RecordPage"]}})
        return files
