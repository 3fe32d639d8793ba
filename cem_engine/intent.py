"""Intent to leave, read from one sentence: a threat or plan (at_risk) versus a cancellation (churned).

Bare words are not enough: "cancel Thursday's call" is not a cancellation, and "move to the new plan" or
"moving to a new office" is not an exit. The patterns below need the object of the act (account,
subscription, contract, ...) or a fixed expression ("give notice", "take our business elsewhere").
A definite cancellation is one stated without condition or question; "we will cancel if this keeps
happening" is a threat, so at_risk.
"""

from __future__ import annotations

from .caseless import Caseless

_OBJECT = r"(?:account|subscription|contract|plan|membership|service|services|agreement|licen[cs]es?|policy)"
_EXIT = Caseless(
    r"\b(?:cancel|cancell?ing|cancellation|terminate|terminating|termination|end|ending|close|closing)\b"
    rf"[\w\s',-]{{0,40}}?\b{_OBJECT}\b"
    r"|\b(?:not|won't|will not|aren't|are not|don't plan to|do not plan to|no longer)"
    r"\s+(?:be\s+)?renew(?:ing|al)?\b"
    r"|\bnot going to renew\b|\b(?:give|giving|serve|serving|hand in|handing in)\s+(?:you\s+)?(?:our\s+|my\s+|the\s+)?"
    r"(?:\w+\s+)?(?:days'?\s+|months'?\s+|weeks'?\s+)?(?:formal\s+|written\s+)?notice\b|\bnotice period\b"
    r"|\b(?:this is|please (?:accept|take|treat) this as) (?:our|my) (?:formal |written )?notice\b"
    r"|\bhereby give notice\b|\b(?:we're|we are|i'm|i am)\s+(?:cancell?ing|leaving)\b"
    r"|\bswitch(?:ing)?\s+(?:supplier|provider|carrier|network|bank|vendor)s?\b"
    r"|\b(?:porting|pac|port-out|port out)\s+(?:code|number)\b|\bport (?:my|our) numbers?\b"
    r"|\b(?:exit|termination|cancellation) (?:terms|clause|fee|fees|process|policy)\b"
    r"|\bwind(?:ing)? down (?:the|our|my) account\b"
    r"|\b(?:switch|switching|move|moving|migrate|migrating)\s+(?:over\s+)?(?:away|elsewhere)\b"
    r"|\b(?:switch|switching|move|moving|migrate|migrating)\s+(?:over\s+)?to\s+"
    r"(?:another|a different|other|a competitor|it|them)\b"
    r"|\b(?:switch|switching|move|moving|migrate|migrating)\s+(?:over\s+)?to\s+a new\s+(?:provider|vendor|supplier"
    r"|platform|system|tool|solution|crm|partner|carrier|bank|service|software|company|agency)\b"
    r"|\b(?:will|would|going to|might|may|plan to|intend to|have to|need to|'ll)\s+(?:probably\s+|likely\s+"
    r"|have to\s+|seriously\s+)?(?:cancel|terminate|leave|churn)\b(?!\s+(?:the |our |my |this |that )?"
    r"(?:meeting|call|appointment|demo|session|webinar|order|booking|invite|training|workshop))"
    r"|\b(?:look(?:ing)? at|evaluat\w+|compar\w+|consider\w*|explor\w+|review\w*|how)\b[^.;]{0,30}\balternatives?\b"
    r"|\b(?:issued|issuing|running|run) an? (?:rfp|tender)\b"
    r"|\btake (?:our|my) business elsewhere\b|\blook(?:ing)? elsewhere\b"
    r"|\b(?:consider|considering|evaluate|evaluating) other (?:providers|vendors|solutions|suppliers|tools)\b"
    r"|\bconsidering (?:leaving|moving|switching|cancell?ing)\b|\bexport (?:all )?(?:of )?our data\b"
    r"|\b(?:leave|leaving) (?:you|your service)\b|\bstop using (?:you|your)\b")
_DEFINITE = Caseless(
    rf"\b(?:please|kindly)\s+(?:cancel|terminate|close|end)\b[\w\s',-]{{0,30}}?\b{_OBJECT}\b"
    r"|\b(?:we|i)\s*(?:have|'ve)?\s*(?:decided to\s+)?(?:cancel(?:l)?ed|terminated|closed|ended)\b"
    rf"[\w\s',-]{{0,30}}?\b{_OBJECT}\b"
    r"|\b(?:we|i)\s*(?:want|would like|'d like|wish|need|have decided)\s+to\s+(?:cancel|terminate|close|end)\b"
    rf"[\w\s',-]{{0,30}}?\b{_OBJECT}\b"
    r"|\b(?:we are|we're|i am|i'm)\s+(?:cancell?ing|terminating|closing)\b"
    rf"[\w\s',-]{{0,30}}?\b{_OBJECT}\b"
    r"|\b(?:asked|wants|requested|called)\s+(?:us\s+)?to\s+(?:cancel|terminate|close)\b"
    rf"[\w\s',-]{{0,30}}?\b{_OBJECT}\b"
    r"|\bhereby (?:cancel|terminate)")
_CONDITIONAL = Caseless(r"\?|\b(?:if|unless|consider|considering|thinking|might|may|could|whether|how|what|when"
                          r"|would we|should we|do we|can we|can i|options?)\b")


# Every pattern above needs one of these stems: a cheap test that skips the patterns for most sentences.
_TRIGGER = Caseless(r"cancel|terminat|renew|notice|exit|wind|switch|mov|migrat|elsewhere|alternative|leav|stop"
                      r"|export|rfp|tender|churn|end|clos|other|pac|port|serv|giv|hand")


def exit_intent(sentence: str) -> str | None:
    """The words stating an intent to leave, if the sentence has them."""
    if not _TRIGGER.search(sentence):
        return None
    found = _EXIT.found(sentence) or _DEFINITE.found(sentence)
    return found.strip() if found else None


def cancellation(sentence: str) -> str | None:
    """The words of a definite cancellation (no condition, no question), if the sentence is one."""
    if not _TRIGGER.search(sentence):
        return None
    found = _DEFINITE.found(sentence)
    if found is None or _CONDITIONAL.search(sentence):
        return None
    return found.strip()
