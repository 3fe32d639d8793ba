"""`cem-connector package dynamics`: the solution zip has the parts and XML shapes of Dataverse's documented
solution schema, matches what the API installer creates, and its web resource renders sandbox data in headless
Chromium, fetched from the connector with the card token across origins (CORS)."""

from __future__ import annotations

import re
import zipfile
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from werkzeug.serving import make_ssl_devcert

from adapters.dynamics.install import CONTACT_FILTERING_ATTRIBUTES, STEPS
from adapters.dynamics.mapping import ColumnNaming
from adapters.dynamics.package import DynamicsPackage
from adapters.fields import CEM_FIELDS
from adapters.packaging import PackageContext, PackageError, write_package
from connector.app import create_app
from connector.store.models import Connection
from sandbox.server import ServerThread
from tests.crm_views import chromium_binary, render_dom, sandbox_profile, texts_by_data_id
from webhooks.dynamics import card_token

PUBLIC = "https://cem.example.com"
SECRET = "dataverse-webhook-key"
GUID = re.compile(r"^\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}$", re.IGNORECASE)

# Element sequences of CustomizationsSolution.xsd (powerapps-docs "Customization solutions file schema"); a
# child may be left out, never reordered or repeated.
IMPORT_EXPORT_XML = ("Entities", "Roles", "Workflows", "FieldSecurityProfiles", "Templates", "RibbonDiffXml",
                     "IsvConfig", "RelationshipRoles", "ConnectionRoles", "SiteMap", "EntityMaps",
                     "EntityRelationships", "OrganizationSettings", "optionsets", "Reports", "RoutingRules",
                     "ChannelPropertyGroups", "ConvertRules", "MobileOfflineProfiles", "Slas",
                     "ChannelAccessProfiles", "ChannelAccessProfileRules", "Dashboards",
                     "InteractionCentricDashboards", "Dialogs", "WebResources", "CustomControls",
                     "SolutionPluginAssemblies", "SdkMessageProcessingSteps", "ServiceEndpoints",
                     "AppModuleSiteMaps", "AppModules", "EntityDataProviders", "EntityDataSources", "Languages",
                     "GlobalSearchConfigurations", "StoredProcedures")
OPTIONSET = ("OptionSetType", "IsGlobal", "IntroducedVersion", "IsCustomizable", "ExternalTypeName", "displaynames",
             "Descriptions", "options", "statuses", "states")
WEB_RESOURCE = ("WebResourceId", "Name", "DisplayName", "Description", "SilverlightVersion", "LanguageCode",
                "WebResourceType", "IntroducedVersion", "IsEnabledForMobileClient", "IsAvailableForMobileOffline",
                "DependencyXml", "IsCustomizable", "CanBeDeleted", "IsHidden", "FileName")
STEP = ("PluginTypeName", "PluginTypeId", "PrimaryEntity", "SecondaryEntity", "AsyncAutoDelete", "Configuration",
        "Description", "FilteringAttributes", "ImpersonatingUserIdName", "InvocationSource", "Mode", "Rank",
        "SdkMessageId", "EventHandler", "EventHandlerTypeCode", "Stage", "IsCustomizable", "IsHidden",
        "SupportedDeployment", "IntroducedVersion", "SdkMessageProcessingStepImages")
SERVICE_ENDPOINT = ("ConnectionMode", "Contract", "Description", "Path", "SolutionNamespace", "UserClaim",
                    "IsCustomizable", "AuthType", "MessageFormat", "NamespaceAddress", "NamespaceFormat",
                    "SASKeyName", "Url")
# xs:all (any order, each at most once) for an attribute; CrmDataType for its Type
ATTRIBUTE_ELEMENTS = {"Type", "Name", "LogicalName", "ExternalName", "IsCustomField", "ValidForCreateApi",
                      "ValidForReadApi", "ValidForUpdateApi", "DisplayMask", "Length", "IsLogical", "AttributeOf",
                      "YomiOf", "CalculationOf", "AggregateOf", "IsAuditEnabled", "XmlAbbreviation", "ImeMode",
                      "RequiredLevel", "LinkedAttribute", "Format", "MaxLength", "MinValue", "MaxValue", "Accuracy",
                      "Descriptions", "displaynames", "OptionSetName", "optionset", "AppDefaultValue",
                      "AccuracySource", "ReferencedEntityObjectTypeCode", "LookupBrowse", "LookupStyle",
                      "LookupTypes", "IsSecured", "IsCustomizable", "IsRenameable", "CanModifySearchSettings",
                      "CanModifyRequirementLevelSettings", "CanModifyFieldLevelSecuritySettings",
                      "CanModifyAdditionalSettings", "IntroducedVersion", "SourceType", "FormulaDefinitionFileName",
                      "Behavior", "CanChangeDateTimeBehavior", "IsGlobalFilterEnabled", "IsSortableEnabled",
                      "CanModifyGlobalFilterSettings", "CanModifyIsSortableSettings", "IsActive",
                      "IsDataSourceSecret"}
CRM_DATA_TYPES = {"virtual", "primarykey", "uniqueidentifier", "char", "nchar", "varchar", "nvarchar", "ntext",
                  "text", "numeric", "int", "smallint", "tinyint", "bigint", "binary", "varbinary", "image", "float",
                  "decimal", "real", "money", "smallmoney", "bit", "timezone", "datetime", "smalldatetime",
                  "timestamp", "lookup", "picklist", "multiselectpicklist", "partylist", "customer", "owner",
                  "state", "status", "sql_variant", "phoneticguide", "HierarchyId", "managedproperty"}
MANIFEST = ("UniqueName", "LocalizedNames", "Descriptions", "Version", "Managed", "Publisher", "RootComponents",
            "MissingDependencies")


def check_sequence(element: ET.Element, order: tuple[str, ...]) -> list[str]:
    tags = [child.tag for child in element]
    unknown = [tag for tag in tags if tag not in order]
    if unknown:
        return [f"<{element.tag}> has elements the schema does not define: {unknown}"]
    positions = [order.index(tag) for tag in tags]
    if positions != sorted(set(positions)):
        return [f"<{element.tag}> children out of the schema's order or repeated: {tags}"]
    return []


def solution_problems(archive: Path) -> list[str]:
    """Every check of the documented shapes; an empty list means the solution conforms."""
    problems: list[str] = []
    with zipfile.ZipFile(archive) as package:
        names = package.namelist()
        parts = {name: package.read(name) for name in names}
    for required in ("[Content_Types].xml", "solution.xml", "customizations.xml"):
        if required not in names:
            problems.append(f"missing {required}")
    if problems:
        return problems
    types = ET.fromstring(parts["[Content_Types].xml"])
    namespace = "{http://schemas.openxmlformats.org/package/2006/content-types}"
    defaults = {d.get("Extension") for d in types.iter(f"{namespace}Default")}
    overrides = {o.get("PartName") for o in types.iter(f"{namespace}Override")}
    for name in names:
        if name != "[Content_Types].xml" and name.rsplit(".", 1)[-1] not in defaults and f"/{name}" not in overrides:
            problems.append(f"{name} has no content type")

    manifest = ET.fromstring(parts["solution.xml"]).find("SolutionManifest")
    if manifest is None:
        return [*problems, "solution.xml has no SolutionManifest"]
    problems += check_sequence(manifest, MANIFEST)
    if not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", manifest.findtext("Version", "")):
        problems.append("Version must be major.minor.build.revision")
    if manifest.findtext("Managed") != "0":
        problems.append("an unmanaged solution has Managed 0")
    publisher = manifest.find("Publisher")
    prefix = publisher.findtext("CustomizationPrefix", "") if publisher is not None else ""
    option_prefix = int(publisher.findtext("CustomizationOptionValuePrefix", "0")) if publisher is not None else 0
    if not re.fullmatch(r"[a-z][a-z0-9]{1,7}", prefix) or prefix.startswith("mscrm"):
        problems.append(f"publisher prefix '{prefix}' must be 2-8 letters/digits, starting with a letter")
    if not 10000 <= option_prefix <= 99999:
        problems.append(f"option value prefix {option_prefix} must be 10000-99999")

    customizations = ET.fromstring(parts["customizations.xml"])
    problems += check_sequence(customizations, IMPORT_EXPORT_XML)
    attribute_names = set()
    for attribute in customizations.iter("attribute"):
        name = attribute.get("PhysicalName") or ""
        tags = [child.tag for child in attribute]
        if not name or not name.startswith(prefix + "_") or len(name) > 50:
            problems.append(f"attribute '{name}': PhysicalName must carry the prefix and be at most 50 characters")
        if set(tags) - ATTRIBUTE_ELEMENTS or len(tags) != len(set(tags)):
            problems.append(f"attribute {name}: unknown or repeated elements {tags}")
        if attribute.findtext("Type") not in CRM_DATA_TYPES:
            problems.append(f"attribute {name}: Type {attribute.findtext('Type')} is not a CrmDataType")
        if attribute.findtext("LogicalName") != name.lower():
            problems.append(f"attribute {name}: LogicalName must be the lowercased PhysicalName")
        attribute_names.add(name.lower())
        for optionset in attribute.iter("optionset"):
            problems += check_sequence(optionset, OPTIONSET)
            values = [int(option.get("value")) for option in optionset.iter("option")]
            if len(values) != len(set(values)) or any(v // 10000 != option_prefix for v in values):
                problems.append(f"attribute {name}: option values must be unique and use the publisher's prefix")
            for label in optionset.iter("label"):
                if not label.get("description") or not label.get("languagecode", "").isdigit():
                    problems.append(f"attribute {name}: every label needs description and languagecode")
    resources = {}
    for resource in customizations.iter("WebResource"):
        problems += check_sequence(resource, WEB_RESOURCE)
        if not GUID.match(resource.findtext("WebResourceId", "")):
            problems.append("WebResourceId must be a GUID")
        file_name = resource.findtext("FileName", "").lstrip("/")
        if file_name not in names:
            problems.append(f"web resource file {file_name} is not in the zip")
        resources[resource.findtext("Name")] = resource
    endpoints = {}
    for endpoint in customizations.iter("ServiceEndpoint"):
        problems += check_sequence(endpoint, SERVICE_ENDPOINT)
        if not GUID.match(endpoint.get("ServiceEndpointId", "")):
            problems.append("ServiceEndpointId must be a GUID")
        endpoints[endpoint.get("ServiceEndpointId", "").lower()] = endpoint
    steps = {}
    for step in customizations.iter("SdkMessageProcessingStep"):
        problems += check_sequence(step, STEP)
        for key in ("SdkMessageId", "EventHandler"):
            if not GUID.match(step.findtext(key, "")):
                problems.append(f"step {step.get('Name')}: {key} must be a GUID")
        if (step.findtext("EventHandler") or "").lower() not in endpoints:
            problems.append(f"step {step.get('Name')} points at no service endpoint of this solution")
        steps[step.get("SdkMessageProcessingStepId", "").lower()] = step
    for component in manifest.iter("RootComponent"):
        kind = component.get("type")
        if kind == "61" and component.get("schemaName") not in resources:
            problems.append(f"root web resource {component.get('schemaName')} is not defined")
        if kind == "92" and (component.get("id") or "").lower() not in steps:
            problems.append(f"root step {component.get('id')} is not defined")
        if kind == "95" and (component.get("id") or "").lower() not in endpoints:
            problems.append(f"root service endpoint {component.get('id')} is not defined")
    return problems


def _solution(tmp_path: Path, **settings: object) -> Path:
    context = PackageContext(connection_id=9, public_url=PUBLIC, settings=settings,
                             card_credential=card_token(SECRET, 9))
    return write_package(DynamicsPackage(), context, tmp_path / "cem")[0]


def test_solution_zip_has_the_documented_shape(tmp_path: Path) -> None:
    archive = _solution(tmp_path)
    assert archive.name == "cem.zip"
    assert solution_problems(archive) == []


def test_solution_matches_what_the_installer_creates(tmp_path: Path) -> None:
    archive = _solution(tmp_path, prefix="acme", option_value_prefix=41234, webhook_auth="HttpHeader")
    assert solution_problems(archive) == []
    naming = ColumnNaming("acme", 41234)
    with zipfile.ZipFile(archive) as package:
        customizations = ET.fromstring(package.read("customizations.xml"))
        solution = ET.fromstring(package.read("solution.xml"))
    columns = [a.findtext("LogicalName") for a in customizations.iter("attribute")]
    assert columns == naming.columns()
    for spec in (s for s in CEM_FIELDS if s.type == "picklist"):
        attribute = next(a for a in customizations.iter("attribute") if a.findtext("LogicalName") ==
                         naming.logical_name(spec))
        assert [int(o.get("value")) for o in attribute.iter("option")] == [naming.option_value(spec, o)
                                                                           for o in spec.options]
    steps = {(s.findtext("PrimaryEntity"), s.get("Name").split(": ")[1].split(" of ")[0])
             for s in customizations.iter("SdkMessageProcessingStep")}
    assert steps == set(STEPS)
    update = next(s for s in customizations.iter("SdkMessageProcessingStep")
                  if s.get("Name") == "CEM connector: Update of contact")
    filtering = update.findtext("FilteringAttributes").split(",")
    assert filtering == list(CONTACT_FILTERING_ATTRIBUTES) and not set(filtering) & set(naming.columns())
    endpoint = next(customizations.iter("ServiceEndpoint"))
    assert endpoint.findtext("Url") == f"{PUBLIC}/webhooks/dynamics/9" and endpoint.findtext("AuthType") == "5"
    assert endpoint.findtext("Contract") == "8" and endpoint.findtext("MessageFormat") == "2"
    assert solution.findtext("SolutionManifest/Publisher/CustomizationPrefix") == "acme"
    # the same ids on every run: importing a newer package updates the components
    assert _solution(tmp_path / "again", prefix="acme", option_value_prefix=41234,
                     webhook_auth="HttpHeader").read_bytes() != b""
    with zipfile.ZipFile(tmp_path / "again/cem.zip") as again:
        assert again.read("customizations.xml") == zipfile.ZipFile(archive).read("customizations.xml")


def test_the_checks_catch_a_malformed_solution(tmp_path: Path) -> None:
    archive = _solution(tmp_path)
    with zipfile.ZipFile(archive) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    customizations = ET.fromstring(parts["customizations.xml"])
    languages = customizations.find("Languages")
    customizations.remove(languages)
    customizations.insert(0, languages)  # out of the schema's order
    next(customizations.iter("option")).set("value", "5")  # not the publisher's option prefix
    parts["customizations.xml"] = ET.tostring(customizations)
    del parts["[Content_Types].xml"]
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as package:
        for name, content in parts.items():
            package.writestr(name, content)
    assert solution_problems(broken) == ["missing [Content_Types].xml"]
    with zipfile.ZipFile(broken, "a") as package:
        package.writestr("[Content_Types].xml", zipfile.ZipFile(archive).read("[Content_Types].xml"))
    problems = "\n".join(solution_problems(broken))
    assert "out of the schema's order" in problems and "option values" in problems


def test_no_card_token_and_plain_http_are_refused() -> None:
    with pytest.raises(PackageError, match="card token"):
        DynamicsPackage().files(PackageContext(connection_id=1, public_url=PUBLIC))
    with pytest.raises(PackageError, match="https"):
        DynamicsPackage().files(PackageContext(connection_id=1, public_url="http://cem.example.com",
                                               card_credential="x"))


def test_web_resource_renders_sandbox_data_in_headless_chromium(tmp_path: Path, runtime_factory,  # type: ignore[no-untyped-def]
                                                                redis_server_url: str) -> None:
    chromium = chromium_binary()
    rt = runtime_factory(redis_server_url)
    sandbox, connection, contact, profile = sandbox_profile(rt, "dynamics", SECRET)
    cert, key = make_ssl_devcert(str(tmp_path / "cem"), host="cem.example.com")
    connector = ServerThread(create_app(rt), ssl_context=(cert, key), url_host="cem.example.com").start()
    rt.settings = replace(rt.settings, public_url=connector.url)  # https://cem.example.com:<port>
    try:
        archive = write_package(DynamicsPackage(), PackageContext(
            connection_id=connection, public_url=connector.url, card_credential=card_token(SECRET, connection)),
            tmp_path / "solution")[0]
        with zipfile.ZipFile(archive) as package:
            resource = next(n for n in package.namelist() if n.startswith("WebResources/"))
            html = package.read(resource)

        def org(environ, start_response):  # type: ignore[no-untyped-def]  # the Dataverse org serving the resource
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [html]

        page_server = ServerThread(org).start()
        with rt.store.session() as session:  # the browser page's origin is the org (CORS)
            row = session.get(Connection, connection)
            row.settings = {**row.settings, "org_url": page_server.url + "/main.aspx"}
        try:
            url = f"{page_server.url}/WebResources/cem_/cemsummary.html?id=%7B{contact.upper()}%7D&typename=contact"
            dom = render_dom(chromium, url, tmp_path)
            text = texts_by_data_id(dom)
            assert text["cem-stage"].startswith(profile["journey_stage"].capitalize())
            assert text["cem-reason"] == profile["churn_reason"].replace("_", " ").capitalize()
            assert f"({profile['churn_risk']})" in text["cem-risk"]
            assert profile["explanation"]["reason_evidence"][0]["quote"] in text["cem-quote"]
            assert 'data-id="cem-loaded"' in dom and 'data-id="cem-loaded" hidden' not in dom
            assert f"/journey/{connection}/{contact}?token=" in dom  # link and framed journey map

            # a token from before a secret rotation: the panel says what is wrong instead of showing data
            (tmp_path / "old.html").write_bytes(html.replace(card_token(SECRET, connection).encode(), b"0" * 64))
            html = (tmp_path / "old.html").read_bytes()
            refused = texts_by_data_id(render_dom(chromium, url, tmp_path))
            assert "unavailable" in refused["cem-error"] and "X-CEM-Card-Token" in refused["cem-error"]
        finally:
            page_server.stop()
    finally:
        connector.stop()
        sandbox.stop()


def test_cli_bakes_the_connections_card_token_into_the_zip(tmp_path: Path, redis_server_url: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from connector.cli import main
    from connector.config import Settings
    from connector.connections import create_connection, rotate_webhook_secret
    from connector.runtime import Runtime
    from tests.conftest import make_env

    env = make_env(tmp_path, redis_url=redis_server_url, CEM_PUBLIC_URL=PUBLIC)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    rt = Runtime(Settings.from_env(env))
    try:
        connection = create_connection(rt.store, rt.box, platform="dynamics", name="contoso",
                                       settings={"org_url": "https://contoso.crm4.dynamics.com", "prefix": "cso"},
                                       credentials={}, webhook_secrets=[SECRET])
    finally:
        rt.close()
    result = CliRunner().invoke(main, ["package", "dynamics", "-o", str(tmp_path / "contoso")])
    assert result.exit_code == 0, result.output
    assert "Import solution" in result.output
    archive = tmp_path / "contoso.zip"
    assert solution_problems(archive) == []
    with zipfile.ZipFile(archive) as package:
        html = next(package.read(n) for n in package.namelist() if n.startswith("WebResources/")).decode()
        assert "cso_cemjourneystage" in package.read("customizations.xml").decode()
    assert f"'{card_token(SECRET, connection)}'" in html
    assert f"{PUBLIC}/cards/dynamics/{connection}/summary" in html

    # after a rotation the new package carries the new secret's token
    rt = Runtime(Settings.from_env(env))
    try:
        new_secret = rotate_webhook_secret(rt.store, rt.box, connection)
    finally:
        rt.close()
    assert CliRunner().invoke(main, ["package", "dynamics", "-o", str(tmp_path / "rotated.zip")]).exit_code == 0
    with zipfile.ZipFile(tmp_path / "rotated.zip") as package:
        html = next(package.read(n) for n in package.namelist() if n.startswith("WebResources/")).decode()
    assert f"'{card_token(new_secret, connection)}'" in html
