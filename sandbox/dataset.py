"""The demo data set: realistic customer timelines in the exchange JSONL format (DESIGN.md §4).

Every contact follows one journey archetype (confusing onboarding, poorly timed upsell, support
friction, happy advocate, prospect, churned customer ...). Texts are written the way customers and
reps really write: HTML bodies, quoted replies, signatures, disclaimers, survey answers, call notes.
Timestamps are relative to ``now`` so that silence and renewal proximity are real at demo time.
Each contact record carries an ``expected`` hint ({"journey_stage", "churn_reason"}) for demos and
tests. Plain dicts only: the sandbox must not import the engine it feeds.

Run ``python -m sandbox.dataset > demo.jsonl`` to print the data set.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

VENDOR = "Beacon"
VENDOR_DOMAIN = "beacon-cx.example"
REPS = (("Dana", "Whitfield"), ("Marco", "Ruiz"), ("Priya", "Nair"), ("Tom", "Becker"))

FIRST_NAMES = (
    "Alice", "Ben", "Chloe", "Diego", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Keira", "Liam",
    "Maya", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Victor", "Wen", "Yusuf", "Zoe",
)
LAST_NAMES = (
    "Andersen", "Brooks", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
    "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Patel", "Quigley", "Rossi", "Schmidt", "Tanaka",
)
COMPANIES = (
    "Harbor Logistics", "Fernway Health", "Quillstone Legal", "Brightpath Schools", "Copperleaf Foods",
    "Nimbus Analytics", "Redwood Dental", "Sparrow Travel", "Tidewater Energy", "Orchard Retail",
    "Bluefin Marine", "Kestrel Security", "Lumen Architects", "Marlow Insurance", "Pinecrest Realty",
)
COMPETITORS = ("Trackwell", "Pipelyne", "OrbitDesk")

DISCLAIMER = (
    "CONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential and may be privileged. "
    "If you are not the intended recipient, please notify the sender and delete this message."
)


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Timeline:
    """Collects one contact's records; times are given in days before ``now``."""

    def __init__(self, index: int, now: datetime, rng: random.Random) -> None:
        self.now = now
        self.rng = rng
        self.contact_id = f"demo-{index:03d}"
        self.first = rng.choice(FIRST_NAMES)
        self.last = rng.choice(LAST_NAMES)
        self.company = rng.choice(COMPANIES)
        domain = self.company.lower().replace(" ", "") + ".example"
        self.email = f"{self.first.lower()}.{self.last.lower()}@{domain}"
        self.rep = rng.choice(REPS)
        self.records: list[dict[str, Any]] = []
        self._n = 0

    # -- helpers -------------------------------------------------------------------------
    def at(self, days_ago: float) -> datetime:
        # a little jitter in the hour keeps timelines from looking machine-made
        return self.now - timedelta(days=days_ago, hours=self.rng.randint(0, 6), minutes=self.rng.randint(0, 59))

    def day(self, days_ago: float) -> str:
        return (self.now - timedelta(days=days_ago)).date().isoformat()

    def signature(self) -> str:
        return f"{self.first} {self.last}\n{self.rng.choice(('Operations Lead', 'Head of CX', 'IT Manager'))}"\
            f" | {self.company}\nTel +44 20 7946 0{self.rng.randint(100, 999)}"

    def rep_signature(self) -> str:
        return f"{self.rep[0]} {self.rep[1]}\nCustomer Success Manager | {VENDOR}"

    def _interaction(self, days_ago: float, kind: str, direction: str, body: str, *, subject: str = "",
                     author: str | None = None, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
        self._n += 1
        record: dict[str, Any] = {
            "record": "interaction", "contact_id": self.contact_id, "id": f"{self.contact_id}-i{self._n:02d}",
            "kind": kind, "direction": direction, "occurred_at": _iso(self.at(days_ago)),
            "subject": subject, "body": body, "metadata": dict(metadata or {}),
        }
        if author:
            record["author"] = author
        self.records.append(record)
        return record

    # -- interaction kinds ---------------------------------------------------------------
    def email_in(self, days_ago: float, subject: str, text: str, *, quoted: str = "", html: bool | None = None) -> None:
        """A customer email, often HTML, with a signature, a disclaimer and the quoted thread below."""
        html = self.rng.random() < 0.5 if html is None else html
        sent = self.at(days_ago + 1).strftime("%a, %d %b %Y at %H:%M")
        rep_name = f"{self.rep[0]} {self.rep[1]}"
        if html:
            paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
            body = f"<html><body><div dir=\"ltr\">{paragraphs}<p>Best regards,<br>"\
                   f"{self.signature().replace(chr(10), '<br>')}</p>"
            if self.rng.random() < 0.5:
                body += f"<p style=\"font-size:8pt;color:#888\">{DISCLAIMER}</p>"
            if quoted:
                body += f"<div class=\"gmail_quote\"><div>On {sent}, {rep_name} &lt;{self.rep[0].lower()}"\
                        f"@{VENDOR_DOMAIN}&gt; wrote:<br></div><blockquote>{quoted}</blockquote></div>"
            body += "</div></body></html>"
        else:
            body = f"{text}\n\nThanks,\n--\n{self.signature()}\n"
            if self.rng.random() < 0.4:
                body += f"\n{DISCLAIMER}\n"
            if quoted:
                if self.rng.random() < 0.5:
                    body += f"\nOn {sent}, {rep_name} <{self.rep[0].lower()}@{VENDOR_DOMAIN}> wrote:\n"
                    body += "\n".join(f"> {line}" for line in quoted.split("\n")) + "\n"
                else:
                    body += f"\n-----Original Message-----\nFrom: {rep_name}\nSent: {sent}\nSubject: {subject}\n\n"
                    body += quoted + "\n"
        self._interaction(days_ago, "email", "inbound", body, subject=subject)

    def email_out(self, days_ago: float, subject: str, text: str, *, metadata: Mapping[str, Any] | None = None) -> None:
        body = f"Hi {self.first},\n\n{text}\n\nBest,\n{self.rep_signature()}"
        self._interaction(days_ago, "email", "outbound", body, subject=subject, metadata=metadata)

    def ticket(self, days_ago: float, subject: str, text: str, *, status: str = "open",
               priority: str = "normal") -> None:
        self._interaction(days_ago, "ticket", "inbound", text, subject=subject,
                          metadata={"status": status, "priority": priority})

    def chat(self, days_ago: float, text: str) -> None:
        self._interaction(days_ago, "chat", "inbound", text, subject="Website chat")

    def call(self, days_ago: float, subject: str, text: str, *, direction: str = "inbound") -> None:
        self._interaction(days_ago, "call", direction, text, subject=subject, author="customer")

    def rep_note(self, days_ago: float, text: str) -> None:
        self._interaction(days_ago, "note", "internal", text, subject="Account note", author="rep")

    def meeting(self, days_ago: float, subject: str, text: str) -> None:
        self._interaction(days_ago, "meeting", "outbound", text, subject=subject, author="rep")

    def survey(self, days_ago: float, *, nps: int | None = None, csat: int | None = None, comment: str = "") -> None:
        meta: dict[str, Any] = {}
        if nps is not None:
            meta["nps"] = nps
        if csat is not None:
            meta["csat"] = csat
        self._interaction(days_ago, "survey", "inbound", comment, subject="Survey response", metadata=meta)

    def form(self, days_ago: float, subject: str, text: str) -> None:
        self._interaction(days_ago, "form", "inbound", text, subject=subject)

    # -- CRM objects ------------------------------------------------------------------------
    def deal(self, name: str, stage: str, *, created_ago: float, close_ago: float | None, type: str = "new_business",
             amount: float = 12000) -> None:
        n = sum(1 for r in self.records if r["record"] == "deal") + 1
        self.records.append({
            "record": "deal", "contact_id": self.contact_id, "id": f"{self.contact_id}-d{n}", "name": name,
            "stage": stage, "type": type, "amount": amount, "created": self.day(created_ago),
            "close_date": self.day(close_ago) if close_ago is not None else None,
        })

    def contact(self, lifecycle: str, *, created_ago: float, renewal_in: float | None, expected_stage: str,
                expected_reason: str) -> dict[str, Any]:
        renewal = (self.now + timedelta(days=renewal_in)).date().isoformat() if renewal_in is not None else None
        return {
            "record": "contact", "contact_id": self.contact_id, "lifecycle_stage": lifecycle,
            "renewal_date": renewal, "first_name": self.first, "last_name": self.last, "email": self.email,
            "company": self.company, "owner": f"{self.rep[0]} {self.rep[1]}", "created": self.day(created_ago),
            "expected": {"journey_stage": expected_stage, "churn_reason": expected_reason},
        }

    def customer_since(self, close_ago: float, *, amount: float = 12000) -> None:
        self.deal(f"{self.company} - {VENDOR} Pro", "closedwon", created_ago=close_ago + 30, close_ago=close_ago,
                  amount=amount)
        self.email_out(close_ago - 1, f"Welcome to {VENDOR}!",
                       "We are thrilled to have you on board! Your workspace is ready and I have booked our kickoff.")


# ---------------------------------------------------------------------------------------------
# Journey archetypes. Each writes one contact's timeline and returns its contact record.
# ---------------------------------------------------------------------------------------------

def _onboarding_confusion(t: _Timeline, v: int) -> dict[str, Any]:
    close = t.rng.randint(20, 35)
    t.customer_since(close)
    t.meeting(close - 3, "Kickoff call",
              "Walked through the setup checklist and the SSO configuration. Next step: import.")
    first = (
        "I've been trying to set up the calendar integration for two days and I can't figure out where the "
        "OAuth settings are. The setup guide is really confusing.",
        "Honestly the onboarding has been a struggle. The import wizard keeps asking for a mapping file and "
        "nobody explained what format it needs. We're lost.",
        "We still haven't managed to configure the user roles. The admin console is confusing and the "
        "documentation doesn't match what I see on screen.",
    )[v % 3]
    t.email_in(close - 8, "Re: Getting started", first,
               quoted="Great to meet you today! Let me know if anything is unclear. Happy onboarding!")
    t.chat(close - 12,
           "Hi, how do I connect our Outlook calendars? The setup steps are unclear and I'm stuck on step 3.")
    t.rep_note(close - 12, "Customer struggling with setup, I am annoyed our docs are this bad. Terrible first week.")
    t.email_in(close - 16, "Re: Getting started",
               "Sorry, one more question. I still don't understand how the onboarding checklist works, "
               "it is confusing which steps are required. This is taking far longer than we expected.",
               quoted="Here is the link to the onboarding checklist. Let me know how it goes!")
    return t.contact("customer", created_ago=close + 45, renewal_in=365 - close, expected_stage="onboarding",
                     expected_reason="onboarding_confusion")


def _poorly_timed_upsell(t: _Timeline, v: int) -> dict[str, Any]:
    close = t.rng.randint(150, 260)
    t.customer_since(close)
    for k, days in enumerate(range(close - 20, 20, -30)):
        t.email_in(days, "Quick question", ("Thanks for the help with the report filters, works well now.",
                                            "The weekly digest is useful, the team likes it.",
                                            "All good on our side, thanks for checking in.")[k % 3])
    offer = t.rng.randint(3, 8)
    t.deal(f"{t.company} - Enterprise upgrade", "presentationscheduled", created_ago=offer, close_ago=None,
           type="upsell", amount=30000)
    t.email_out(offer, "Unlock Enterprise: 20% off this month",
                "Exciting news! As a valued customer you qualify for our Enterprise tier with advanced analytics. "
                "Upgrade this month and save 20%.", metadata={"campaign": "enterprise-upsell"})
    reply = (
        "Honestly, pitching us an upgrade right now is tone deaf. We are not interested in Enterprise and "
        "I'm annoyed that this offer landed the same week our export broke.",
        "Please stop sending upgrade offers. We are not interested in paying more right now and this kind of "
        "sales pitch is frustrating.",
        "I find this upsell email pretty irritating, we just renewed our budget and the timing is terrible.",
    )[v % 3]
    t.email_in(offer - 2, "Re: Unlock Enterprise: 20% off this month", reply,
               quoted="Exciting news! As a valued customer you qualify for our Enterprise tier.")
    return t.contact("customer", created_ago=close + 60, renewal_in=365 - close, expected_stage="adoption",
                     expected_reason="poorly_timed_upsell")


def _established_stage(renewal_in: float | None) -> str:
    """DESIGN.md §3 for a customer who complains or goes quiet without saying they will leave: not at_risk
    (that needs a stated intent), so renewal when the renewal date is within 90 days, else adoption.
    The pain shows in churn risk and reason instead."""
    return "renewal" if renewal_in is not None and renewal_in <= 90 else "adoption"


def _support_friction(t: _Timeline, v: int) -> dict[str, Any]:
    close = t.rng.randint(120, 270)  # renewal over 90 days out: the stage must not hinge on a date CRMs lose
    t.customer_since(close)
    t.ticket(45, "SSO login loop", "Users get redirected back to the login page after SSO. Please help.",
             status="closed")
    t.ticket(30, "Report scheduling not sending", "Scheduled reports have not been delivered since Monday.",
             status="open")
    t.email_in(21, f"Re: Case 00{t.rng.randint(1000, 9999)} report scheduling",
               "We are still waiting for an update on this ticket. It's been over a week with no response.",
               quoted="Thanks for reaching out, our support team will get back to you shortly.")
    t.ticket(14, "Still waiting - report scheduling",
             ("This is the third time I'm following up. Nobody from support has got back to us. "
              "Please escalate this.", "Still no answer from your support team. I need this escalated to a "
              "manager today.", "Your support has been slow and unhelpful, we keep being asked for the same "
              "logs again.")[v % 3], status="open", priority="high")
    t.chat(6, "I've opened three tickets this month and still waiting on all of them. Is anyone there?")
    return t.contact("customer", created_ago=close + 40, renewal_in=365 - close,
                     expected_stage=_established_stage(365 - close), expected_reason="support_friction")


def _product_defect(t: _Timeline, v: int) -> dict[str, Any]:
    close = t.rng.randint(120, 270)  # renewal over 90 days out: the stage must not hinge on a date CRMs lose
    t.customer_since(close)
    t.email_in(60, "Feedback", "The dashboards look great and the team is getting used to them.")
    bug = (
        "The desktop app crashes every time we export more than 1,000 rows. We lost an afternoon of work.",
        "Since the last release the sync is broken: contacts are duplicated and some notes disappeared.",
        "We keep getting an error 500 when saving a journey. It has happened dozens of times this week.",
    )[v % 3]
    t.ticket(18, "Bug report", bug, status="open", priority="high")
    t.email_in(10, "Re: Bug report",
               "The workaround doesn't work either. The app still crashes and the data is corrupted. "
               "This bug is blocking our month-end reporting.",
               quoted="We've identified the bug and a fix is scheduled. Thanks for your patience!")
    t.survey(5, csat=2, comment="The product is unstable, too many bugs lately.")
    return t.contact("customer", created_ago=close + 40, renewal_in=365 - close,
                     expected_stage=_established_stage(365 - close), expected_reason="product_defect")


def _pricing_value(t: _Timeline, v: int) -> dict[str, Any]:
    close = t.rng.randint(290, 320)  # renewal 45-75 days out: the quote conversation is happening now
    t.customer_since(close)
    # the quote belongs to an open renewal deal, as a CRM records it; the contacts' renewal date is no
    # standard CRM field, so the deal is what carries "renewal" through every CRM (demo stage check)
    t.deal(f"{t.company} renewal", "contractsent", created_ago=41, close_ago=None, type="renewal")
    t.email_out(40, "Your renewal quote", "Please find your renewal quote attached, reflecting our new list prices.")
    msg = (
        "The new price is far too expensive for what we actually use. We can't justify the cost to our CFO.",
        "A 30% price increase is hard to swallow. Honestly we don't see enough value to justify the cost.",
        "For the number of seats we use, it's overpriced. Our budget is being cut and this isn't worth it anymore.",
    )[v % 3]
    t.email_in(35, "Re: Your renewal quote", msg, quoted="Please find your renewal quote attached.")
    t.call(20, "Renewal discussion", "Customer said the pricing is too expensive compared to the value they get "
                                     "and asked for a discount on the renewal.")
    return t.contact("customer", created_ago=close + 40, renewal_in=365 - close, expected_stage="renewal",
                     expected_reason="pricing_value")


def _missing_feature(t: _Timeline, v: int) -> dict[str, Any]:
    close = t.rng.randint(120, 250)
    t.customer_since(close)
    ask = (
        "It's disappointing that there is still no way to export journeys to PowerPoint. We really need it.",
        "Your product doesn't support multi-currency deals, which is a dealbreaker for our EU team.",
        "We are missing a proper API for bulk updates. Without it we have to do everything by hand, which is painful.",
    )[v % 3]
    t.email_in(50, "Feature request", ask, quoted="Thanks for the feedback, I'll pass it to the product team.")
    t.form(30, "Feature request form", "Feature: Salesforce CPQ support. Impact: we can't roll out to sales "
                                       "without it, the lack of CPQ support is a real limitation.")
    t.survey(12, nps=5, comment="Good basics but it lacks features we need, e.g. multi-language surveys.")
    return t.contact("customer", created_ago=close + 40, renewal_in=365 - close, expected_stage="adoption",
                     expected_reason="missing_feature")


def _competitor(t: _Timeline, v: int) -> dict[str, Any]:
    close = t.rng.randint(200, 330)
    t.customer_since(close)
    rival = COMPETITORS[v % len(COMPETITORS)]
    t.email_in(25, "Contract", (
        f"Heads up: we are evaluating {rival} as an alternative. They offer a similar product and leadership "
        "wants to compare before we renew.",
        f"We've decided to switch to {rival} next quarter, so we won't be renewing. Please tell us how to "
        "export our data.",
        f"{rival} gave us a demo last week and frankly it looks better than what we have. We're considering moving.",
    )[v % 3], quoted="Just checking in ahead of your renewal!")
    t.call(15, "Check-in", f"They mentioned {rival} again and are comparing the two tools side by side.")
    return t.contact("customer", created_ago=close + 40, renewal_in=365 - close, expected_stage="at_risk",
                     expected_reason="competitor")


def _billing_issue(t: _Timeline, v: int) -> dict[str, Any]:
    close = t.rng.randint(100, 250)
    t.customer_since(close)
    t.ticket(20, "Invoice problem", (
        "We were charged twice on our last invoice. Please refund the duplicate payment.",
        "Your invoice lists 60 seats but we only have 40. The billing is wrong again.",
        "Our card was charged after we changed to invoice billing. This is the second billing error this year.",
    )[v % 3], status="open")
    t.email_in(12, "Re: Invoice problem", "I'm still waiting for the refund and the corrected invoice. Our finance "
               "team is annoyed about these billing mistakes.", quoted="We're looking into your invoice.")
    return t.contact("customer", created_ago=close + 40, renewal_in=365 - close,
                     expected_stage=_established_stage(365 - close), expected_reason="billing_issue")


def _disengagement(t: _Timeline, v: int) -> dict[str, Any]:
    close = t.rng.randint(300, 340)
    t.customer_since(close)
    quiet = t.rng.randint(100, 140)
    for k, days in enumerate(range(close - 10, quiet, -9)):
        kind = k % 3
        if kind == 0:
            t.email_in(days, "Weekly sync", "Thanks, the team used the new reports in this week's review.")
        elif kind == 1:
            t.chat(days, "Quick question about filters in the journey view, how do I save one?")
        else:
            t.call(days, "Weekly sync", "Went through adoption numbers, usage steady across both teams.")
    for days in (quiet - 30, quiet - 60, 20):
        t.email_out(days, "Checking in", "Haven't heard from you in a while, is everything going well?")
    # the contract runs two years: the renewal date (no standard CRM field, so lost in the CRM round trip)
    # is months away and the stage does not hinge on it
    renewal_in = 2 * 365 - close + 30 * (v % 2)
    return t.contact("customer", created_ago=close + 40, renewal_in=renewal_in,
                     expected_stage=_established_stage(renewal_in), expected_reason="disengagement")


def _relationship(t: _Timeline, v: int) -> dict[str, Any]:
    close = t.rng.randint(120, 240)
    t.customer_since(close)
    t.email_in(30, "Our account", (
        "This is our third account manager this year and nobody seems to know our history. Frankly our account "
        "manager never returns my calls.",
        "Our customer success manager has been unresponsive for weeks and missed two scheduled calls. "
        "We feel ignored as a customer.",
        "I'm unhappy with how our account is handled. The new account manager was dismissive in our last call.",
    )[v % 3], quoted="I'm your new point of contact going forward!")
    t.call(15, "Escalation", "Asked for a different account manager, feels nobody at Beacon listens to them.")
    return t.contact("customer", created_ago=close + 40, renewal_in=365 - close, expected_stage="adoption",
                     expected_reason="relationship")


def _advocate(t: _Timeline, v: int) -> dict[str, Any]:
    close = t.rng.randint(120, 240)
    t.customer_since(close)
    t.email_in(90, "Thank you", "The new journey map is fantastic, our leadership loves it. Great work!")
    t.survey(40, nps=10 - v % 2, comment="Best tool we've bought this year, the support team is excellent.")
    t.email_in(20, "Referral", "Happy to recommend you! I referred two colleagues at partner companies, and "
               "we'd gladly do a case study.", quoted="Would you be open to a referral or a case study?")
    t.rep_note(18, "Great call. Customer is delighted and agreed to be a reference.")
    return t.contact("evangelist" if v % 2 else "customer", created_ago=close + 40, renewal_in=365 - close,
                     expected_stage="advocacy", expected_reason="none")


def _awareness(t: _Timeline, v: int) -> dict[str, Any]:
    t.form(25, "Newsletter signup", "Interested in customer journey analytics.")
    t.email_out(20, "Welcome to the Beacon newsletter", "Thanks for subscribing! Here's our guide to journey mapping.")
    if v % 2:
        t.form(8, "Ebook download", "Downloaded: The CX leader's guide to churn.")
    return t.contact("subscriber" if v % 2 else "lead", created_ago=26, renewal_in=None,
                     expected_stage="awareness", expected_reason="none")


def _consideration(t: _Timeline, v: int) -> dict[str, Any]:
    t.form(40, "Demo request", "We'd like to see how Beacon works with HubSpot. About 50 agents.")
    t.deal(f"{t.company} - new business", ("qualifiedtobuy", "presentationscheduled", "appointmentscheduled")[v % 3],
           created_ago=30, close_ago=None)
    t.meeting(25, "Discovery call", "Discussed their CX goals, current churn and HubSpot setup.")
    t.email_in(20, "Questions after the demo", "Thanks for the demo, it looked promising. Could you share pricing "
               "for 50 seats and whether you support Dynamics as well?", quoted="Great to meet you today!")
    return t.contact("salesqualifiedlead", created_ago=45, renewal_in=None, expected_stage="consideration",
                     expected_reason="none")


def _purchase(t: _Timeline, v: int) -> dict[str, Any]:
    t.form(70, "Demo request", "Looking for a journey analytics tool for our support org.")
    t.deal(f"{t.company} - new business", ("contractsent", "decisionmakerboughtin")[v % 2], created_ago=50,
           close_ago=None, amount=24000)
    t.email_in(6, "Re: Order form", "Our legal team is reviewing the contract, we expect to sign by Friday. "
               "Looking forward to getting started!", quoted="Please find the order form attached.")
    return t.contact("opportunity", created_ago=75, renewal_in=None, expected_stage="purchase", expected_reason="none")


def _renewal_happy(t: _Timeline, v: int) -> dict[str, Any]:
    t.customer_since(340)
    t.email_in(120, "Quarterly review", "Good quarter, the churn dashboard helped us save two accounts.")
    t.deal(f"{t.company} - renewal", "presentationscheduled", created_ago=10, close_ago=None, type="renewal")
    t.email_in(5, "Re: Renewal", "Yes, we plan to renew. Can you send the paperwork for another year?",
               quoted="Your renewal is coming up next month.")
    return t.contact("customer", created_ago=380, renewal_in=25, expected_stage="renewal", expected_reason="none")


def _churned(t: _Timeline, v: int) -> dict[str, Any]:
    t.customer_since(400)
    t.email_in(60, "Re: Renewal quote", (
        "We won't be renewing, the price is simply too expensive for our budget this year.",
        "We're not renewing. We're moving to Pipelyne, which offers the same for less and covers our needs.",
    )[v % 2], quoted="Your renewal quote is attached.")
    t.deal(f"{t.company} - renewal", "closedlost", created_ago=70, close_ago=35, type="renewal")
    return t.contact("other", created_ago=430, renewal_in=-35,
                     expected_stage="churned", expected_reason=("pricing_value", "competitor")[v % 2])


def _rep_negativity_control(t: _Timeline, v: int) -> dict[str, Any]:
    close = t.rng.randint(120, 250)
    t.customer_since(close)
    t.email_in(45, "Monthly check-in", "Everything is running smoothly, thanks. The team enjoys the new dashboards.")
    t.rep_note(40, "Internal: this account is a nightmare to manage, terrible contract terms, I hate the pricing "
                   "exceptions they got. Angry at finance.")
    t.email_out(30, "Apologies", "I'm so sorry about the terrible outage last week, it was awful and unacceptable "
                                 "on our side. We have fixed the bug.")
    t.email_in(28, "Re: Apologies", "No worries at all, we barely noticed. Thanks for the transparency!",
               quoted="I'm so sorry about the terrible outage last week, it was awful and unacceptable.")
    return t.contact("customer", created_ago=close + 40, renewal_in=365 - close, expected_stage="adoption",
                     expected_reason="none")


def _steady_adoption(t: _Timeline, v: int) -> dict[str, Any]:
    close = t.rng.randint(100, 240)  # renewal well outside the 90-day window
    t.customer_since(close)
    for k, days in enumerate(range(close - 15, 5, -25)):
        t.email_in(days, "Update", ("Reports went out on time, thanks.", "Rolled out to the second team today.",
                                    "Works well, no issues this month.")[k % 3])
    t.survey(10, csat=4, comment="Solid product, support answers quickly.")
    return t.contact("customer", created_ago=close + 40, renewal_in=365 - close, expected_stage="adoption",
                     expected_reason="none")


def _late_delivery(t: _Timeline, v: int) -> dict[str, Any]:
    """A reason an admin added in the engine config (demo/engine.toml), not one of the packaged ones."""
    close = t.rng.randint(150, 240)
    t.customer_since(close)
    t.email_out(40, "Your kiosk order", "Your order of 3 feedback kiosks is confirmed for delivery on the 14th.")
    t.email_in(30, "Re: Your kiosk order", (
        "The kiosks for our three stores were due on the 14th and they still haven't turned up. Our in-store "
        "survey launch depends on them.",
        "We're a week past the promised date and the kiosks are nowhere to be seen. The courier's tracking page "
        "hasn't changed in days.",
        "Only one of the three kiosks came, eight days late, and the other two have no delivery date at all.",
    )[v % 3], quoted="Your order of 3 feedback kiosks is confirmed for delivery on the 14th.")
    t.email_in(16, "Kiosk order - again", "Another missed delivery date. We rearranged the store launch twice "
               "around your shipment and still have nothing.", quoted="We're checking with the carrier.")
    t.call(8, "Kiosk delivery", "Customer chased the kiosk shipment again; the warehouse has pushed the delivery "
                                "out another two weeks and they are unhappy about the wait.")
    return t.contact("customer", created_ago=close + 40, renewal_in=365 - close, expected_stage="adoption",
                     expected_reason="late_delivery")


# Stories of reasons an admin adds in the engine config (demo/engine.toml); only in demo_records(added=...).
ADDED_REASON_ARCHETYPES: dict[str, Callable[[_Timeline, int], dict[str, Any]]] = {"late_delivery": _late_delivery}


ARCHETYPES: tuple[Callable[[_Timeline, int], dict[str, Any]], ...] = (
    _onboarding_confusion, _poorly_timed_upsell, _support_friction, _product_defect, _pricing_value,
    _missing_feature, _competitor, _billing_issue, _disengagement, _relationship, _advocate, _awareness,
    _consideration, _purchase, _renewal_happy, _churned, _rep_negativity_control, _steady_adoption,
)


def demo_records(count: int = 60, *, seed: int = 7, now: datetime | None = None,
                 added: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """``count`` contacts with their deals and interactions, as exchange-format records.

    ``added``: reason name -> how many more contacts whose story is that admin-added reason
    (``ADDED_REASON_ARCHETYPES``), appended after the ``count`` packaged stories.
    Deterministic for a given ``seed`` and ``now`` (default: the current UTC time).
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for index in range(count):
        archetype = ARCHETYPES[index % len(ARCHETYPES)]
        timeline = _Timeline(index + 1, now, rng)
        contact = archetype(timeline, index // len(ARCHETYPES))
        records.append(contact)
        records.extend(timeline.records)
    for name, extra in (added or {}).items():
        if name not in ADDED_REASON_ARCHETYPES:
            raise ValueError(f"no demo stories for the reason {name!r}; "
                             f"known: {', '.join(ADDED_REASON_ARCHETYPES)}")
        for k in range(extra):
            timeline = _Timeline(len([r for r in records if r.get("record") == "contact"]) + 1, now, rng)
            records.append(ADDED_REASON_ARCHETYPES[name](timeline, k))
            records.extend(timeline.records)
    return records


def _json_default(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_jsonl(path: str | Path, records: Iterable[Mapping[str, Any]]) -> int:
    """Write records one JSON object per line; returns the number written. ``-`` means stdout."""
    n = 0
    if str(path) == "-":
        for record in records:
            sys.stdout.write(json.dumps(record, default=_json_default) + "\n")
            n += 1
        return n
    with open(path, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, default=_json_default) + "\n")
            n += 1
    return n


if __name__ == "__main__":
    write_jsonl("-", demo_records())
