"""Links from the pages back to the CRM record, per platform (adapters/<crm>/links.py)."""

from __future__ import annotations

from connector.registry import get_platform


def _link(platform: str, settings: dict, account: str | None, interaction_id: str, kind: str) -> str | None:  # type: ignore[type-arg]
    return get_platform(platform).adapter_class().record_url(settings, account, "c1", interaction_id, kind)


def test_hubspot_tickets_have_a_page_other_activities_open_their_contact() -> None:
    assert _link("hubspot", {}, "62515", "ticket:77", "ticket") == \
        "https://app.hubspot.com/contacts/62515/record/0-5/77"
    assert _link("hubspot", {}, "62515", "email:5", "email") == "https://app.hubspot.com/contacts/62515/record/0-1/c1"
    assert _link("hubspot", {"app_url": "https://app-eu1.hubspot.com"}, "9", "call:1", "call").startswith(
        "https://app-eu1.hubspot.com/contacts/9/")
    assert _link("hubspot", {}, None, "email:5", "email") is None  # no portal id, no link


def test_salesforce_opens_any_record_by_id_on_the_org_domain() -> None:
    settings = {"instance_url": "https://acme.my.salesforce.com"}
    assert _link("salesforce", settings, "00D", "00T5e00000AbCdEAAZ", "call") == \
        "https://acme.my.salesforce.com/00T5e00000AbCdEAAZ"
    assert _link("salesforce", settings, "00D", "survey-7", "survey") == "https://acme.my.salesforce.com/c1"
    assert _link("salesforce", {}, "00D", "00T5e00000AbCdEAAZ", "call") is None


def test_dynamics_opens_the_activity_table_row() -> None:
    settings = {"org_url": "https://contoso.crm4.dynamics.com/"}
    assert _link("dynamics", settings, "org", "a1b2", "call") == (
        "https://contoso.crm4.dynamics.com/main.aspx?pagetype=entityrecord&etn=phonecall&id=a1b2")
    assert _link("dynamics", settings, "org", "n1", "note").endswith("etn=contact&id=c1")


def test_every_platform_names_the_domains_that_may_frame_rep_pages() -> None:
    for name in ("hubspot", "salesforce", "dynamics"):
        origins = get_platform(name).adapter_class().frame_ancestors
        assert origins and all(o.startswith("https://") for o in origins)
