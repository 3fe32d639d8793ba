"""Churn-reason taxonomies: reasons defined by a label, a description and example sentences.

Two ship with the engine (``taxonomies/b2b_software.toml``, ``taxonomies/services_commerce.toml``); the
engine config picks one with ``[reasons] taxonomy = "..."`` and may add or replace reasons with tables of
the same shape (``[reasons.late_delivery]``), so an admin adds a reason without code.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .errors import ConfigError

TAXONOMIES = ("b2b_software", "services_commerce")
# Reasons read from behaviour and timing rather than from one sentence; they keep their rules in any taxonomy.
RULE_REASONS = ("onboarding_confusion", "poorly_timed_upsell", "disengagement", "support_friction")
_MIN_EXAMPLES = 3


@dataclass(frozen=True)
class Reason:
    name: str
    label: str
    description: str
    examples: tuple[str, ...]
    cues: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    name: str
    reasons: Mapping[str, Reason]  # in picklist order, `none` last

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.reasons)

    def label(self, name: str) -> str:
        reason = self.reasons.get(name)
        return reason.label if reason else name.replace("_", " ").capitalize()


def _strings(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(s, str) and s.strip() for s in raw):
        raise ConfigError(f"{where!r} must be a list of non-empty strings")
    return tuple(s.strip() for s in raw)


def _reason(name: str, raw: Any, where: str, base: Reason | None) -> Reason:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where!r} must be a table with label, description and examples")
    unknown = set(raw) - {"label", "description", "examples", "cues"}
    if unknown:
        raise ConfigError(f"unknown setting(s) in {where!r}: {', '.join(sorted(unknown))}")
    if not name.replace("_", "").isalnum() or not name.islower():
        raise ConfigError(f"reason name {name!r} must be lower-case letters, digits and underscores")
    label = raw.get("label", base.label if base else None)
    description = raw.get("description", base.description if base else "")
    if not isinstance(label, str) or not label.strip():
        raise ConfigError(f"{where}.label is required: the name reps see in the picklist")
    if not isinstance(description, str):
        raise ConfigError(f"{where}.description must be a string")
    examples = _strings(raw["examples"], f"{where}.examples") if "examples" in raw else \
        (base.examples if base else ())
    cues = _strings(raw["cues"], f"{where}.cues") if "cues" in raw else (base.cues if base else ())
    if len(examples) < _MIN_EXAMPLES:
        raise ConfigError(f"{where} needs at least {_MIN_EXAMPLES} example sentences (5-10 work well); "
                          f"got {len(examples)}")
    return Reason(name, label.strip(), description.strip(), examples, tuple(c.lower() for c in cues))


def packaged(name: str) -> dict[str, Any]:
    if name not in TAXONOMIES:
        raise ConfigError(f"unknown reasons.taxonomy {name!r}; choose one of {', '.join(TAXONOMIES)}")
    text = resources.files("cem_engine").joinpath("taxonomies", f"{name}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)["reasons"]


def build_taxonomy(name: str, custom: Mapping[str, Any], extra_competitors: tuple[str, ...] = ()) -> Taxonomy:
    """The packaged taxonomy ``name`` with the admin's reason tables laid over it."""
    reasons: dict[str, Reason] = {}
    for key, raw in packaged(name).items():
        reasons[key] = _reason(key, raw, f"taxonomy {name}: {key}", None)
    for key, raw in custom.items():
        reasons[key] = _reason(key, raw, f"reasons.{key}", reasons.get(key))
    if "none" not in reasons:
        raise ConfigError("a taxonomy needs a `none` reason with examples of what is not a reason")
    if extra_competitors and "competitor" in reasons:
        old = reasons["competitor"]
        reasons["competitor"] = Reason(old.name, old.label, old.description, old.examples,
                                       (*old.cues, *(c.lower() for c in extra_competitors)))
    ordered = {k: v for k, v in reasons.items() if k != "none"}
    ordered["none"] = reasons["none"]
    return Taxonomy(name, ordered)
