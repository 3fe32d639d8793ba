"""HubSpot receiver: the shared security suite plus HubSpot's signatures, event types and loop prevention.

Expected signatures are computed with hubspot-api-client's own ``Signature`` class (or
plain hashlib/hmac for non-UTF-8 bodies), never with the module under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from hubspot.utils.signature import Signature

from tests.webhook_suite import SECRET, RecordingSink, WebhookSecuritySuite
from webhooks.base import CaseInsensitiveDict, InboundRequest, WebhookTarget
from webhooks.hubspot import HubSpotReceiver, decode_signed_uri

APP_ID = "1160452"
PORTAL = 33
# %3A must be decoded before signing, %20 must not (request-validation guide, v3)
URL = "https://connector.example.com/webhooks/hubspot?src=hs%3Aapp&note=a%20b"
SIGNED_URL = "https://connector.example.com/webhooks/hubspot?src=hs:app&note=a%20b"


def event(subscription_type: str, object_id: int = 1246965, *, event_id: int = 100, occurred_at: int = 1462216307945,
          **extra: object) -> dict[str, object]:
    return {"eventId": event_id, "subscriptionId": 25, "portalId": PORTAL, "appId": int(APP_ID),
            "occurredAt": occurred_at, "subscriptionType": subscription_type, "attemptNumber": 0,
            "objectId": object_id, **extra}


def v3_expected(secret: str, method: str, signed_uri: str, body: bytes, timestamp: str) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:  # the SDK takes str; sign raw bytes the same way by hand
        message = method.encode() + signed_uri.encode() + body + timestamp.encode()
        return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    return Signature.get_signature(secret, text, "v3", http_uri=signed_uri, http_method=method, timestamp=timestamp)


class TestHubSpotReceiver(WebhookSecuritySuite):
    receiver_cls = HubSpotReceiver
    supports_timestamp = True

    def make_target(self, secrets: Sequence[str]) -> WebhookTarget:
        return WebhookTarget(connection_id=7, account_id=str(PORTAL), secrets=tuple(secrets),
                             settings={"app_id": APP_ID})

    def valid_body(self) -> bytes:
        return json.dumps([event("contact.propertyChange", propertyName="lifecyclestage",
                                 propertyValue="customer", changeSource="CRM_UI")]).encode()

    def signed_request(self, body: bytes, secret: str, *, timestamp: float | None = None) -> InboundRequest:
        ts = str(int((self.now if timestamp is None else timestamp) * 1000))
        headers = {"Content-Type": "application/json", "X-HubSpot-Signature-v3": v3_expected(
            secret, "POST", SIGNED_URL, body, ts), "X-HubSpot-Request-Timestamp": ts}
        return InboundRequest("POST", URL, CaseInsensitiveDict(headers), body)

    def strip_auth(self, request: InboundRequest) -> InboundRequest:
        headers = {k: v for k, v in request.headers.items() if not k.startswith("x-hubspot")}
        return InboundRequest(request.method, request.url, CaseInsensitiveDict(headers), request.body)

    def legacy_request(self, body: bytes, secret: str, version: str | None) -> InboundRequest:
        text = body.decode()
        signature = Signature.get_signature(secret, text, version or "v1", http_uri=URL, http_method="POST")
        headers = {"Content-Type": "application/json", "X-HubSpot-Signature": signature}
        if version:
            headers["X-HubSpot-Signature-Version"] = version
        return InboundRequest("POST", URL, CaseInsensitiveDict(headers), body)

    def parse(self, events: list[dict[str, object]]) -> list:
        status, text, sink = self.run(self.signed_request(json.dumps(events).encode(), SECRET))
        assert status == 200, text
        return sink.events

    # -- signatures ------------------------------------------------------------------
    def test_partial_url_decoding_rule(self) -> None:
        assert decode_signed_uri("https://x.test/a%2Fb?c=%3a%40%21%24%27%28%29%2A%2C%3B%3F") == \
            "https://x.test/a/b?c=:@!$'()*,;?"
        assert decode_signed_uri("https://x.test/?q=a%20b%26c%3D") == "https://x.test/?q=a%20b%26c%3D"

    def test_signature_over_fully_decoded_url_is_rejected(self) -> None:
        body = self.valid_body()
        ts = str(int(self.now * 1000))
        wrong = v3_expected(SECRET, "POST", SIGNED_URL.replace("%20", " "), body, ts)
        request = InboundRequest("POST", URL, CaseInsensitiveDict({
            "Content-Type": "application/json", "X-HubSpot-Signature-v3": wrong,
            "X-HubSpot-Request-Timestamp": ts}), body)
        status, _, _ = self.run(request)
        assert status == 401

    def test_timestamp_inside_window_is_accepted(self) -> None:
        status, _, _ = self.run(self.signed_request(self.valid_body(), SECRET, timestamp=self.now - 299))
        assert status == 200

    def test_missing_or_garbled_timestamp_is_rejected(self) -> None:
        request = self.signed_request(self.valid_body(), SECRET)
        for value in ("", "abc", "1e12", "-5"):
            status, _, _ = self.run(self.with_header(request, "X-HubSpot-Request-Timestamp", value))
            assert status == 401, value

    def test_v1_and_v2_accepted_without_v3_header(self) -> None:
        for version in (None, "v1", "v2"):
            status, text, sink = self.run(self.legacy_request(self.valid_body(), SECRET, version))
            assert status == 200, (version, text)
            assert len(sink.events) == 1
            status, _, sink = self.run(self.legacy_request(self.valid_body(), "wrong", version))
            assert status == 401 and not sink.events

    def test_official_v2_vector(self) -> None:
        # developers.hubspot.com v2 validation FAQ, POST example
        secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
        body = b'{"example_field":"example_value"}'
        from webhooks.hubspot import v2_signature
        assert v2_signature(secret, "POST", "https://www.example.com/webhook_uri", body) == \
            "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"

    def test_unknown_legacy_version_is_rejected(self) -> None:
        request = self.legacy_request(self.valid_body(), SECRET, "v2")
        status, _, _ = self.run(self.with_header(request, "X-HubSpot-Signature-Version", "v9"))
        assert status == 401

    def test_v3_wins_over_a_valid_legacy_header(self) -> None:
        legacy = self.legacy_request(self.valid_body(), SECRET, "v1")
        request = self.with_header(legacy, "X-HubSpot-Signature-v3", "bm90LXZhbGlk")
        request = self.with_header(request, "X-HubSpot-Request-Timestamp", str(int(self.now * 1000)))
        status, _, _ = self.run(request)
        assert status == 401

    # -- parsing -----------------------------------------------------------------------
    def test_every_event_type_maps(self) -> None:
        batch = [
            event("contact.creation", 1, event_id=1, changeFlag="CREATED"),
            event("contact.propertyChange", 2, event_id=2, propertyName="email", propertyValue="a@b.c"),
            event("contact.deletion", 3, event_id=3),
            event("contact.privacyDeletion", 3, event_id=4),
            event("contact.associationChange", 5, event_id=5, associationType="CONTACT_TO_TICKET",
                  fromObjectId=5, toObjectId=77, associationRemoved=False),
            event("ticket.associationChange", 78, event_id=6, associationType="TICKET_TO_CONTACT",
                  fromObjectId=78, toObjectId=6),
            event("deal.creation", 90, event_id=7),
            event("deal.propertyChange", 90, event_id=8, propertyName="dealstage", propertyValue="closedwon"),
            event("ticket.deletion", 91, event_id=9),
            event("conversation.newMessage", 555, event_id=10, messageId="m1", messageType="MESSAGE"),
            event("object.creation", 600, event_id=11, objectTypeId="0-46"),
            event("object.propertyChange", 601, event_id=12, objectTypeId="0-49", propertyName="hs_email_text"),
            event("object.creation", 602, event_id=13, objectTypeId="0-48"),
            event("object.creation", 603, event_id=14, objectTypeId="0-47"),
            event("object.deletion", 604, event_id=15, objectTypeId="0-18"),
            event("object.creation", 605, event_id=16, objectTypeId="0-19"),
            event("object.creation", 606, event_id=17, objectTypeId="0-1"),
            event("company.creation", 700, event_id=18),
            event("object.creation", 701, event_id=19, objectTypeId="0-27"),
            event("contact.merge", 8, event_id=20, primaryObjectId=8, mergedObjectIds=[9], newObjectId=10),
            event("deal.associationChange", 90, event_id=21, associationType="DEAL_TO_COMPANY",
                  fromObjectId=90, toObjectId=3),
        ]
        got = [(e.kind, e.object_type, e.object_id, e.contact_ids) for e in self.parse(batch)]
        assert got == [
            ("contact.created", "contact", "1", ("1",)),
            ("contact.changed", "contact", "2", ("2",)),
            ("contact.deleted", "contact", "3", ("3",)),
            ("contact.deleted", "contact", "3", ("3",)),
            ("association.changed", "ticket", "77", ("5",)),
            ("association.changed", "ticket", "78", ("6",)),
            ("interaction.changed", "deal", "90", ()),
            ("interaction.changed", "deal", "90", ()),
            ("interaction.deleted", "ticket", "91", ()),
            ("interaction.changed", "chat", "555", ()),
            ("interaction.changed", "note", "600", ()),
            ("interaction.changed", "email", "601", ()),
            ("interaction.changed", "call", "602", ()),
            ("interaction.changed", "meeting", "603", ()),
            ("interaction.deleted", "chat", "604", ()),
            ("interaction.changed", "survey", "605", ()),
            ("contact.created", "contact", "606", ("606",)),
            ("contact.changed", "contact", "10", ("10",)),
        ]
        # only a contact property edit leaves the contact's interactions and deals as they were (a merge does not)
        assert [e.object_id for e in self.parse(batch) if e.record_only] == ["2"]

    def test_event_fields(self) -> None:
        [e] = self.parse([event("contact.creation", 106500991877, event_id=3944863254, occurred_at=1742175136625,
                                changeSource="INTEGRATION", sourceId="9318066")])
        assert e.platform == "hubspot" and e.account_id == str(PORTAL)
        assert e.event_id == f"{PORTAL}:25:3944863254:1742175136625"
        assert e.occurred_at == datetime(2025, 3, 17, 1, 32, 16, 625000, tzinfo=UTC)
        assert e.actor == "9318066" and e.raw["sourceId"] == "9318066" and not e.own_write

    def test_redelivery_keeps_the_event_id(self) -> None:
        first = event("contact.creation", 1, event_id=5)
        retry = dict(first, attemptNumber=3)
        a, b = self.parse([first]), self.parse([retry])
        assert a[0].event_id == b[0].event_id

    def test_shape_errors_are_400(self) -> None:
        for batch in ([{"eventId": 1}], [event("contact.creation", True)], [event("contact.creation",
                      occurred_at="soon")], [event("contact.creation", occurred_at=10**30)],
                      [dict(event("contact.creation"), subscriptionType=5)], [{**event("x"), "portalId": None}]):
            status, text, sink = self.run(self.signed_request(json.dumps(batch).encode(), SECRET))
            assert status == 400, (batch, text)
            assert not sink.events

    def test_batch_size_cap(self) -> None:
        ok = [event("contact.creation", i, event_id=i) for i in range(150)]
        assert len(self.parse(ok)) == 150
        too_many = [event("contact.creation", i, event_id=i) for i in range(1001)]
        status, _, _ = self.run(self.signed_request(json.dumps(too_many).encode(), SECRET))
        assert status == 413

    def test_events_from_an_unsigned_portal_are_refused_not_acknowledged(self) -> None:
        batch = [event("contact.creation", 1), dict(event("contact.creation", 2), portalId=999)]
        sink = RecordingSink()
        response = self.receiver().handle(self.signed_request(json.dumps(batch).encode(), SECRET), [
            self.make_target([SECRET]), WebhookTarget(8, "999", ("other-secret",), {})], sink)
        assert response.status == 403 and "999" in response.body  # HubSpot redelivers the batch
        assert [e.object_id for e in sink.events] == ["1"]  # the routable event is queued (the redelivery dedupes)

    # -- loop prevention ---------------------------------------------------------------
    def test_own_writes_are_marked(self) -> None:
        batch = [
            event("contact.propertyChange", 1, event_id=1, propertyName="cem_emotion_score", propertyValue="5",
                  changeSource="CRM_UI"),
            event("contact.propertyChange", 2, event_id=2, propertyName="lifecyclestage",
                  changeSource="INTEGRATION", sourceId=APP_ID),
            event("contact.propertyChange", 3, event_id=3, propertyName="lifecyclestage", changeSource="API",
                  sourceId=APP_ID),
            event("contact.propertyChange", 4, event_id=4, propertyName="lifecyclestage",
                  changeSource="INTEGRATION", sourceId="424242"),
            event("contact.propertyChange", 5, event_id=5, propertyName="lifecyclestage", changeSource="CRM_UI",
                  sourceId="userId:12"),
        ]
        own = {e.object_id: e.own_write for e in self.parse(batch)}
        assert own == {"1": True, "2": True, "3": True, "4": False, "5": False}
