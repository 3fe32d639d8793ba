"""``cem-connector package dynamics``: an unmanaged Dataverse solution (.zip) an admin imports in Power Apps.

The zip holds what an exported solution holds (shapes from powerapps-docs "Customization solutions file schema",
the CustomizationsSolution.xsd it publishes, and the export format: ``[Content_Types].xml`` with an Override
per web resource file):

* ``solution.xml``: the solution and its publisher (same unique names, prefix and option value prefix as the
  API installer uses), root components: contact (its CEM columns only), the web resource, the webhook and steps;
* ``customizations.xml``: the CEM columns on contact generated from ``adapters.fields`` with ``ColumnNaming``
  (choices as local option sets, values ``option_value_prefix * 10000 + FieldSpec.option_code``, as the
  installer makes them);
  the HTML web resource; the webhook ``ServiceEndpoint`` (contract 8, JSON) and one asynchronous PostOperation
  ``SdkMessageProcessingStep`` per (message, table) the installer registers, contact Update filtered to the
  columns people edit so the connector's own writes trigger nothing;
* ``WebResources/<name><GUID>``: the summary panel for the contact form.

Ids are derived from the connection (uuid5), so importing a newer package updates rather than duplicates.
The webhook key itself is not part of a solution (Dataverse never exports it): README says where to enter it.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar
from xml.etree import ElementTree as ET

from ..fields import FieldSpec
from ..packaging import PackageContext, PackageError, fill, template
from .install import (
    ASYNC_MODE,
    AUTH_TYPES,
    CONTACT_FILTERING_ATTRIBUTES,
    JSON_FORMAT,
    POST_OPERATION,
    STEPS,
    WEBHOOK_CONTRACT,
)
from .mapping import LANGUAGE, ColumnNaming

# sdkmessage ids are the same in every Dataverse organization.
SDK_MESSAGE_IDS = {"Create": "9ebdbb1b-ea3e-db11-86a7-000a3a5473e8", "Update": "20bebb1b-ea3e-db11-86a7-000a3a5473e8",
                   "Delete": "a1bdbb1b-ea3e-db11-86a7-000a3a5473e8"}
SERVICE_ENDPOINT_TYPE_CODE = 4618  # object type code of serviceendpoint: a step's EventHandler is a webhook
# solutioncomponent types: Entity, Web Resource, SDK Message Processing Step, Service Endpoint
ENTITY, WEB_RESOURCE, STEP, SERVICE_ENDPOINT = 1, 61, 92, 95
HTML_WEB_RESOURCE = 1
ENTITY_SHELL = 2  # root component behavior: the table's own metadata only; its new columns are listed below
NAMESPACE_IDS = uuid.UUID("5c0a8a1e-6f0e-4d8e-9b7c-ce0000000016")  # fixed: the same ids on every run
SOLUTION_VERSION = "1.0.0.0"


def _text(parent: ET.Element, tag: str, value: Any, **attributes: str) -> ET.Element:
    child = ET.SubElement(parent, tag, attributes)
    if value is not None:
        child.text = str(value)
    return child


def _labels(parent: ET.Element, tag: str, item: str, text: str) -> None:
    container = ET.SubElement(parent, tag)
    ET.SubElement(container, item, description=text, languagecode=str(LANGUAGE))


def _document(root: ET.Element) -> bytes:
    ET.indent(root, space="  ")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def _guid(value: uuid.UUID) -> str:
    return "{" + str(value) + "}"


class DynamicsPackage:
    archive: ClassVar[bool] = True
    next_step: ClassVar[str] = ("Import it in Power Apps > Solutions > Import solution "
                                "(README: 'Install inside the CRM', Dynamics 365).")

    def files(self, context: PackageContext) -> dict[str, bytes]:
        context.require_https("Dataverse")
        if not context.card_credential:
            raise PackageError("No card token for this connection: it needs a webhook secret "
                               "(cem-connector rotate-secret --connection N).")
        naming = ColumnNaming.from_settings(context.settings)
        solution = str(context.settings.get("solution_unique_name") or "cemconnector")
        publisher = str(context.settings.get("publisher_unique_name") or solution)
        ids = _Ids(context.connection_id)
        resource_name = f"{naming.prefix}_/cemsummary.html"
        resource_file = resource_name.replace("/", "").replace(".", "") + str(ids.web_resource).upper()
        html = fill(template(__file__, "cemsummary.html"), {
            "CEM_SUMMARY_URL": context.summary_url("dynamics"), "CEM_CARD_TOKEN": context.card_credential})
        return {
            "[Content_Types].xml": self._content_types(resource_file),
            "solution.xml": self._solution(solution, publisher, naming, ids, resource_name),
            "customizations.xml": self._customizations(context, naming, ids, resource_name, resource_file),
            f"WebResources/{resource_file}": html.encode(),
        }

    # -- the three package parts ---------------------------------------------------------------------
    @staticmethod
    def _content_types(resource_file: str) -> bytes:
        root = ET.Element("Types", xmlns="http://schemas.openxmlformats.org/package/2006/content-types")
        ET.SubElement(root, "Default", Extension="xml", ContentType="application/octet-stream")
        ET.SubElement(root, "Override", PartName=f"/WebResources/{resource_file}",
                      ContentType="application/octet-stream")
        return _document(root)

    @staticmethod
    def _solution(solution: str, publisher: str, naming: ColumnNaming, ids: _Ids, resource_name: str) -> bytes:
        root = ET.Element("ImportExportXml", {"version": "9.2.0.0", "SolutionPackageVersion": "9.2",
                                              "languagecode": str(LANGUAGE), "generatedBy": "CrmLive",
                                              "OrganizationSchemaType": "Standard"})
        manifest = ET.SubElement(root, "SolutionManifest")
        _text(manifest, "UniqueName", solution)
        _labels(manifest, "LocalizedNames", "LocalizedName", "CEM connector")
        _labels(manifest, "Descriptions", "Description",
                "Customer Experience Mapping: CEM columns, the contact summary panel and the connector's webhook.")
        _text(manifest, "Version", SOLUTION_VERSION)
        _text(manifest, "Managed", 0)
        owner = ET.SubElement(manifest, "Publisher")
        _text(owner, "UniqueName", publisher)
        _labels(owner, "LocalizedNames", "LocalizedName", "CEM connector")
        _labels(owner, "Descriptions", "Description", "Publisher of the CEM connector's customizations.")
        _text(owner, "EMailAddress", None)
        _text(owner, "SupportingWebsiteUrl", None)
        _text(owner, "CustomizationPrefix", naming.prefix)
        _text(owner, "CustomizationOptionValuePrefix", naming.option_value_prefix)
        address = ET.SubElement(ET.SubElement(owner, "Addresses"), "Address")
        _text(address, "AddressNumber", 1)
        _text(address, "AddressTypeCode", 1)
        components = ET.SubElement(manifest, "RootComponents")
        ET.SubElement(components, "RootComponent", type=str(ENTITY), schemaName="contact", behavior=str(ENTITY_SHELL))
        ET.SubElement(components, "RootComponent", type=str(WEB_RESOURCE), schemaName=resource_name, behavior="0")
        ET.SubElement(components, "RootComponent", type=str(SERVICE_ENDPOINT), id=_guid(ids.endpoint), behavior="0")
        for table, message in STEPS:
            ET.SubElement(components, "RootComponent", type=str(STEP), id=_guid(ids.step(table, message)),
                          behavior="0")
        ET.SubElement(manifest, "MissingDependencies")
        return _document(root)

    def _customizations(self, context: PackageContext, naming: ColumnNaming, ids: _Ids, resource_name: str,
                        resource_file: str) -> bytes:
        root = ET.Element("ImportExportXml")
        entity = ET.SubElement(ET.SubElement(root, "Entities"), "Entity")
        _text(entity, "Name", "Contact", LocalizedName="Contact", OriginalName="Contact")
        info = ET.SubElement(ET.SubElement(entity, "EntityInfo"), "entity", Name="Contact", unmodified="1")
        attributes = ET.SubElement(info, "attributes")
        for spec in context.fields:
            attributes.append(self._attribute(spec, naming))
        ET.SubElement(root, "Roles")
        ET.SubElement(root, "Workflows")
        ET.SubElement(root, "FieldSecurityProfiles")
        ET.SubElement(root, "Templates")
        ET.SubElement(root, "EntityMaps")
        ET.SubElement(root, "EntityRelationships")
        ET.SubElement(root, "OrganizationSettings")
        ET.SubElement(root, "optionsets")
        resource = ET.SubElement(ET.SubElement(root, "WebResources"), "WebResource")
        _text(resource, "WebResourceId", _guid(ids.web_resource))
        _text(resource, "Name", resource_name)
        _text(resource, "DisplayName", "CEM summary (contact)")
        _text(resource, "Description", "Stage, emotion, churn risk and reason with the journey map, from the CEM "
                                       "connector. Add it to the contact form and pass the record id.")
        _text(resource, "LanguageCode", LANGUAGE)
        _text(resource, "WebResourceType", HTML_WEB_RESOURCE)
        _text(resource, "IntroducedVersion", SOLUTION_VERSION)
        _text(resource, "IsEnabledForMobileClient", 0)
        _text(resource, "IsCustomizable", 1)
        _text(resource, "CanBeDeleted", 1)
        _text(resource, "IsHidden", 0)
        _text(resource, "FileName", f"/WebResources/{resource_file}")
        ET.SubElement(root, "CustomControls")
        root.append(self._steps(ids))
        root.append(self._endpoint(context, ids))
        ET.SubElement(root, "EntityDataProviders")
        _text(ET.SubElement(root, "Languages"), "Language", LANGUAGE)
        return _document(root)

    # -- columns --------------------------------------------------------------------------------------
    @staticmethod
    def _attribute(spec: FieldSpec, naming: ColumnNaming) -> ET.Element:
        """One CEM column, with the metadata ``ColumnNaming.attribute_definition`` gives the Web API installer."""
        definition = naming.attribute_definition(spec)
        kind = definition["@odata.type"].rsplit(".", 1)[1]
        logical = naming.logical_name(spec)
        attribute = ET.Element("attribute", PhysicalName=naming.schema_name(spec))
        crm_type = {"PicklistAttributeMetadata": "picklist", "DateTimeAttributeMetadata": "datetime",
                    "IntegerAttributeMetadata": "int", "DecimalAttributeMetadata": "decimal",
                    "MemoAttributeMetadata": "ntext"}[kind]
        _text(attribute, "Type", crm_type)
        _text(attribute, "Name", logical)
        _text(attribute, "LogicalName", logical)
        _text(attribute, "RequiredLevel", "none")
        _text(attribute, "DisplayMask", "ValidForAdvancedFind|ValidForForm|ValidForGrid")
        _text(attribute, "ValidForUpdateApi", 1)
        _text(attribute, "ValidForReadApi", 1)
        _text(attribute, "ValidForCreateApi", 1)
        _text(attribute, "IsCustomField", 1)
        _text(attribute, "IsAuditEnabled", 0)
        _text(attribute, "IsSecured", 0)
        _text(attribute, "IntroducedVersion", SOLUTION_VERSION)
        _text(attribute, "IsCustomizable", 1)
        _text(attribute, "IsRenameable", 1)
        _text(attribute, "SourceType", 0)
        if kind == "DateTimeAttributeMetadata":
            _text(attribute, "Format", "datetime")
            _text(attribute, "Behavior", 1)  # UserLocal, as the installer creates it
        elif kind in ("IntegerAttributeMetadata", "DecimalAttributeMetadata"):
            if kind == "IntegerAttributeMetadata":
                _text(attribute, "Format", "none")
            _text(attribute, "MinValue", definition["MinValue"])
            _text(attribute, "MaxValue", definition["MaxValue"])
            if kind == "DecimalAttributeMetadata":
                _text(attribute, "Accuracy", definition["Precision"])
        elif kind == "MemoAttributeMetadata":
            _text(attribute, "Format", "textarea")
            _text(attribute, "MaxLength", definition["MaxLength"])
        else:
            _text(attribute, "AppDefaultValue", -1)
            _text(attribute, "OptionSetName", logical)  # a local choice, named like its column
            optionset = ET.SubElement(attribute, "optionset", Name=logical)
            _text(optionset, "OptionSetType", "picklist")
            _text(optionset, "IsGlobal", 0)
            _text(optionset, "IntroducedVersion", SOLUTION_VERSION)
            _text(optionset, "IsCustomizable", 1)
            _labels(optionset, "displaynames", "displayname", spec.label)
            _labels(optionset, "Descriptions", "Description", spec.description)
            options = ET.SubElement(optionset, "options")
            for option in spec.options:
                item = ET.SubElement(options, "option", value=str(naming.option_value(spec, option)))
                _labels(item, "labels", "label", spec.option_label(option))
        _labels(attribute, "displaynames", "displayname", spec.label)
        _labels(attribute, "Descriptions", "Description", spec.description)
        return attribute

    # -- webhook ---------------------------------------------------------------------------------------
    @staticmethod
    def _endpoint(context: PackageContext, ids: _Ids) -> ET.Element:
        auth = str(context.settings.get("webhook_auth") or "webhookkey").lower()
        if auth not in AUTH_TYPES:
            raise PackageError("webhook_auth must be WebhookKey or HttpHeader.")
        endpoints = ET.Element("ServiceEndpoints")
        endpoint = ET.SubElement(endpoints, "ServiceEndpoint", ServiceEndpointId=_guid(ids.endpoint),
                                 Name="CEM connector")
        _text(endpoint, "Contract", WEBHOOK_CONTRACT)
        _text(endpoint, "Description", "Customer Experience Mapping: sends contact and activity changes to the "
                                       "connector.")
        _text(endpoint, "IsCustomizable", 1)
        _text(endpoint, "AuthType", AUTH_TYPES[auth])
        _text(endpoint, "MessageFormat", JSON_FORMAT)
        _text(endpoint, "Url", context.webhook_url("dynamics"))
        return endpoints

    @staticmethod
    def _steps(ids: _Ids) -> ET.Element:
        steps = ET.Element("SdkMessageProcessingSteps")
        for table, message in STEPS:
            step = ET.SubElement(steps, "SdkMessageProcessingStep", SdkMessageProcessingStepId=_guid(
                ids.step(table, message)), Name=f"CEM connector: {message} of {table}")
            _text(step, "PrimaryEntity", table)
            _text(step, "AsyncAutoDelete", 1)
            _text(step, "Description", "CEM connector webhook step")
            if (table, message) == ("contact", "Update"):
                _text(step, "FilteringAttributes", ",".join(CONTACT_FILTERING_ATTRIBUTES))
            _text(step, "InvocationSource", 0)
            _text(step, "Mode", ASYNC_MODE)
            _text(step, "Rank", 1)
            _text(step, "SdkMessageId", _guid(uuid.UUID(SDK_MESSAGE_IDS[message])))
            _text(step, "EventHandler", _guid(ids.endpoint))
            _text(step, "EventHandlerTypeCode", SERVICE_ENDPOINT_TYPE_CODE)
            _text(step, "Stage", POST_OPERATION)
            _text(step, "IsCustomizable", 1)
            _text(step, "IsHidden", 0)
            _text(step, "SupportedDeployment", 0)
            _text(step, "IntroducedVersion", SOLUTION_VERSION)
        return steps


class _Ids:
    """Stable ids per connection: a re-import updates the same components."""

    def __init__(self, connection_id: int) -> None:
        self.connection_id = connection_id
        self.endpoint = self._id("serviceendpoint")
        self.web_resource = self._id("webresource:cemsummary")

    def _id(self, name: str) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE_IDS, f"cem-connector:{self.connection_id}:{name}")

    def step(self, table: str, message: str) -> uuid.UUID:
        return self._id(f"step:{message}:{table}")

