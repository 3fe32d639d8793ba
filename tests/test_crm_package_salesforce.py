"""`cem-connector package salesforce`: Salesforce's source-deploy-retrieve converts the SFDX source, and every XML
file, before and after conversion, validates against the Metadata API schema (the WSDL simple-salesforce ships)."""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
import simple_salesforce
from lxml import etree

from adapters.fields import CEM_FIELDS
from adapters.packaging import PackageContext, write_package
from adapters.salesforce.mapping import field_metadata, native_name
from adapters.salesforce.package import API_VERSION, SalesforcePackage
from tests.crm_views import node_tool

PUBLIC = "https://cem.example.com"
XSD = "http://www.w3.org/2001/XMLSchema"
METADATA = "http://soap.sforce.com/2006/04/metadata"


@cache
def metadata_schema() -> etree.XMLSchema:
    """The Metadata API types of simple-salesforce's metadata.wsdl, with a global element per complex type so a
    document whose root is <CustomField>, <Layout>... validates against that type (element order included)."""
    wsdl = etree.parse(str(Path(simple_salesforce.__file__).parent / "metadata.wsdl"))
    source = wsdl.find(f".//{{{XSD}}}schema")
    schema = etree.Element(f"{{{XSD}}}schema", nsmap={"xsd": XSD, "tns": METADATA})
    for key, value in source.attrib.items():
        schema.set(key, value)
    for child in source:
        schema.append(copy.deepcopy(child))
    declared = {e.get("name") for e in source.findall(f"{{{XSD}}}element")}
    for complex_type in source.findall(f"{{{XSD}}}complexType"):
        name = complex_type.get("name")
        if name and name not in declared:
            etree.SubElement(schema, f"{{{XSD}}}element", name=name, type=f"tns:{name}")
    return etree.XMLSchema(etree.ElementTree(schema))


def _validate(path: Path) -> list[str]:
    document = etree.parse(str(path)).getroot()
    parts = [document]
    if document.tag == f"{{{METADATA}}}CustomObject":
        # SDR recomposes an object by appending its decomposed <fields> after the object's own elements, as every
        # `sf project deploy` sends it; the WSDL's sequence does not describe that order, so each part is checked
        # against its own type: the object without its fields, each field as a CustomField.
        fields = document.findall(f"{{{METADATA}}}fields")
        for field in fields:
            document.remove(field)
            field.tag = f"{{{METADATA}}}CustomField"
        parts += fields
    schema = metadata_schema()
    problems = []
    for part in parts:
        if not schema.validate(etree.ElementTree(part)):
            problems += [f"{path.name}: {error.message}" for error in schema.error_log]
    return problems


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sfdx") / "project"
    context = PackageContext(connection_id=4, public_url=PUBLIC, settings={"integration_user_id": "005000000000001AAA"})
    write_package(SalesforcePackage(), context, out)
    return out


def test_sfdx_project_and_source_files(package: Path) -> None:
    project = json.loads((package / "sfdx-project.json").read_text())
    assert project["sourceApiVersion"] == API_VERSION
    assert [d["path"] for d in project["packageDirectories"]] == ["force-app"]
    assert (package / project["packageDirectories"][0]["path"]).is_dir()
    xml_files = sorted(package.rglob("*-meta.xml"))
    assert len(xml_files) > 30
    problems = [problem for path in xml_files for problem in _validate(path)]
    assert not problems, "\n".join(problems)


def test_fields_are_the_installers_fields(package: Path) -> None:
    """The package and `cem-connector install` make the same fields: both come from field_metadata()."""
    fields = package / "force-app/main/default/objects/Contact/fields"
    assert sorted(p.name for p in fields.iterdir()) == sorted(f"{native_name(s)}.field-meta.xml" for s in CEM_FIELDS)
    for spec in CEM_FIELDS:
        root = etree.parse(str(fields / f"{native_name(spec)}.field-meta.xml")).getroot()
        read = {child.tag.split("}")[1]: child.text for child in root if child.text and child.text.strip()}
        wanted = field_metadata(spec)
        assert read["type"] == wanted["type"] and read["label"] == wanted["label"]
        for key in ("precision", "scale", "length", "visibleLines"):
            assert read.get(key) == (str(wanted[key]) if key in wanted else None), (spec.key, key)
        if spec.type == "picklist":
            values = [v.text for v in root.iterfind(f".//{{{METADATA}}}value/{{{METADATA}}}fullName")]
            assert values == list(spec.options)


def test_source_deploy_retrieve_converts_it_and_the_result_validates(package: Path, tmp_path: Path) -> None:
    result = node_tool("salesforce/convert-source.cjs", str(package), str(tmp_path / "mdapi"))
    assert result["ok"], result
    components = set(result["components"])
    for sobject in ("Contact", "Lead"):
        assert {f"CustomField:{sobject}.{native_name(spec)}" for spec in CEM_FIELDS} <= components
    assert {"PermissionSet:CEM_Connector", "PermissionSet:CEM_Viewer", "Layout:Contact-CEM Contact Layout",
            "LightningComponentBundle:cemSummary", "CspTrustedSite:CEM_Connector",
            "RemoteSiteSetting:CEM_Connector", "CustomObject:CEM_Settings__c", "ApexClass:CemSummaryController",
            "ApexTrigger:CemContactTrigger"} <= components
    converted = [tmp_path / "mdapi" / name for name in result["files"]
                 if not name.endswith((".cls", ".trigger", ".js", ".html", ".css"))]
    problems = [problem for path in converted for problem in _validate(path)]
    assert not problems, "\n".join(problems)
    package_xml = etree.parse(str(tmp_path / "mdapi/package.xml")).getroot()
    assert package_xml.findtext(f"{{{METADATA}}}version") == API_VERSION


def test_a_malformed_package_fails_both_checks(package: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(package, broken)
    field = broken / "force-app/main/default/objects/Contact/fields/CEM_Churn_Risk__c.field-meta.xml"
    # elements out of the schema's order: the XSD check refuses it
    field.write_text(field.read_text().replace("<label>CEM Churn Risk</label>", "").replace(
        "</CustomField>", "<label>CEM Churn Risk</label></CustomField>"))
    assert _validate(field)
    # a file SDR cannot read: the conversion fails
    field.write_text("<CustomField")
    result = node_tool("salesforce/convert-source.cjs", str(broken), str(tmp_path / "out"))
    assert not result["ok"] and result["exit_code"] == 1 and "CEM_Churn_Risk__c" in result["problems"][0]


def test_apex_and_component_name_the_connection(package: Path) -> None:
    apex = (package / "force-app/main/default/classes/CemConnector.cls").read_text()
    assert f"BASE_URL = '{PUBLIC}'" in apex and "CONNECTION_ID = '4'" in apex
    assert "INTEGRATION_USER_ID = '005000000000001AAA'" in apex
    controller = (package / "force-app/main/default/classes/CemSummaryController.cls").read_text()
    assert "'/cards/salesforce/' + CemConnector.CONNECTION_ID + '/summary'" in controller
    assert "WITH USER_MODE" in controller  # reps only get summaries of records they can see
    html = (package / "force-app/main/default/lwc/cemSummary/cemSummary.html").read_text()
    assert html.count("<template") == html.count("</template>") and html.startswith("<template>")
    for data_id in ("cem-stage", "cem-emotion", "cem-risk", "cem-reason", "cem-quote", "cem-journey"):
        assert f'data-id="{data_id}"' in html
    assert "src={journeyUrl}" in html  # the journey map is framed (CSP Trusted Site: frame-src)
    layout = (package / "force-app/main/default/layouts/Contact-CEM Contact Layout.layout-meta.xml").read_text()
    assert all(native_name(spec) in layout for spec in CEM_FIELDS)


def test_lightning_component_javascript_parses(package: Path, tmp_path: Path) -> None:
    bundle = package / "force-app/main/default/lwc/cemSummary"
    result = node_tool("salesforce/check-lwc.mjs", str(bundle))
    assert result["ok"] and result["checked"] == ["cemSummary"], result
    broken = tmp_path / "cemSummary"
    shutil.copytree(bundle, broken)
    source = (bundle / "cemSummary.js").read_text()
    (broken / "cemSummary.js").write_text(source.replace("get ready() {", "get ready( {"))
    assert not node_tool("salesforce/check-lwc.mjs", str(broken))["ok"]


def test_record_page_component_renders_sandbox_data_in_headless_chromium(tmp_path: Path, runtime_factory,  # type: ignore[no-untyped-def]
                                                                          redis_server_url: str) -> None:
    """cemSummary compiled by Salesforce's LWC compiler, run by its engine in Chromium; Apex is stood in for by a
    server doing what CemSummaryController does (the signed call to the connector), base components by stubs."""
    import requests
    from werkzeug.wrappers import Request, Response

    from connector.app import create_app
    from connector.store.models import Connection
    from sandbox.server import ServerThread
    from tests.crm_views import chromium_binary, render_dom, salesforce_signature, sandbox_profile, texts_by_data_id

    chromium = chromium_binary()
    secret = "salesforce-webhook-secret"
    rt = runtime_factory(redis_server_url)
    sandbox, connection, contact, profile = sandbox_profile(rt, "salesforce", secret)
    with rt.store.session() as session:
        org_id = session.get(Connection, connection).account_id
    rt.settings = replace(rt.settings, public_url=PUBLIC)
    connector = ServerThread(create_app(rt)).start()
    write_package(SalesforcePackage(), PackageContext(connection_id=connection, public_url=PUBLIC),
                  tmp_path / "project")
    page = tmp_path / "page"
    built = node_tool("salesforce/build-lwc-page.mjs", str(tmp_path / "project/force-app/main/default/lwc/cemSummary"),
                      str(page))
    assert built["ok"], built
    apex_secret = {"value": secret}

    @Request.application
    def record_page(request: Request) -> Response:
        if request.method == "POST" and request.path == "/apex/CemSummaryController.summary":
            body = json.dumps({"contactId": request.get_json()["recordId"], "organizationId": org_id}).encode()
            answer = requests.post(f"{connector.url}/cards/salesforce/{connection}/summary", data=body, timeout=10,
                                   headers=salesforce_signature(apex_secret["value"], body))
            if answer.status_code != 200:  # AuraHandledException reaches the component as error.body.message
                message = f"The CEM connector answered {answer.status_code}: {answer.text}"
                return Response(json.dumps({"message": message}), 500, content_type="application/json")
            return Response(json.dumps(answer.text), content_type="application/json")  # Apex returns the String
        name = "bundle.js" if request.path.endswith(".js") else "index.html"
        return Response((page / name).read_bytes(), content_type="text/javascript" if name.endswith(".js")
                        else "text/html")

    server = ServerThread(record_page).start()
    try:
        dom = render_dom(chromium, f"{server.url}/index.html?recordId={contact}", tmp_path)
        snapshot = dom[dom.index('id="cem-snapshot"'):]
        text = texts_by_data_id(snapshot)
        assert text["cem-stage"].startswith(profile["journey_stage"].capitalize() + " since ")
        assert text["cem-reason"] == profile["churn_reason"].replace("_", " ").capitalize()
        assert f"({profile['churn_risk']})" in text["cem-risk"]
        assert profile["explanation"]["reason_evidence"][0]["quote"] in text["cem-quote"]
        assert f"{PUBLIC}/journey/{connection}/{contact}?token=" in snapshot  # link and framed map

        apex_secret["value"] = "an old secret"  # CEM Settings not updated after a rotation
        refused = texts_by_data_id(render_dom(chromium, f"{server.url}/index.html?recordId={contact}", tmp_path))
        assert "401" in refused["cem-error"] and "signature" in refused["cem-error"]
    finally:
        server.stop()
        connector.stop()
        sandbox.stop()


def test_apex_parses_with_the_apex_grammar(package: Path, tmp_path: Path) -> None:
    apex = sorted(package.rglob("*.cls")) + sorted(package.rglob("*.trigger"))
    result = node_tool("salesforce/check-apex.mjs", *map(str, apex))
    assert result["ok"], result["problems"]
    assert len(result["checked"]) == 7
    broken = tmp_path / "CemNotify.cls"
    broken.write_text((package / "force-app/main/default/classes/CemNotify.cls").read_text().replace(
        "this.events = events;", "this.events = ;"))
    failed = node_tool("salesforce/check-apex.mjs", str(broken))
    assert not failed["ok"] and failed["problems"][0].startswith("CemNotify.cls:")
