"""Engine configuration: TOML over packaged defaults, strict validation, tunable without code."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cem_engine import CEMEngineError, ConfigError, ContactFacts, ContactInput, Interaction, analyze, load_config

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "engine.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_load() -> None:
    config = load_config()
    assert config.emotion.half_life_days == 30
    assert "still waiting" in config.phrases
    assert config.competitor_names == ()  # shipped defaults name no one's rivals; the demo names its own
    assert "trackwell" not in config.taxonomy.reasons["competitor"].cues
    assert config.taxonomy.name == "b2b_software" and len(config.taxonomy.names) == 11


def test_override_merges_tables(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, '[emotion]\nhalf_life_days = 7\n[lexicon.words]\nsunset = -3.0\n'))
    assert config.emotion.half_life_days == 7.0
    assert config.words["sunset"] == -3.0 and "refund" in config.words  # added, defaults kept
    assert config.fingerprint != load_config().fingerprint


@pytest.mark.parametrize(("text", "message"), [
    ("[emotion]\nhalf_life = 3\n", "unknown setting 'emotion.half_life'"),
    ("[emotion]\nhalf_life_days = 'long'\n", "must be a number"),
    ("[emotion]\nhalf_life_days = 0\n", "greater than 0"),
    ("[emotion]\nnps_scale = [1, 2]\n", "11 values"),
    ("[lexicon.words]\ngreat = 9\n", "between -4.0 and 4.0"),
    ("[stages.lifecycle]\nlead = 'hot'\n", "not a journey stage"),
    ("[cues]\nsleepy = ['yawn']\n", "unknown setting 'cues.sleepy'"),
    ("[topics]\nweather = ['rain']\n", "unknown setting 'topics'"),
    ("[reasons]\ntaxonomy = 'retail'\n", "unknown reasons.taxonomy 'retail'"),
    ("[reasons.late_delivery]\nlabel = 'Late'\nexamples = ['late']\n", "at least 3 example sentences"),
    ("[reasons.late_delivery]\nexamples = ['a', 'b', 'c']\n", "label is required"),
    ("[emotion\n", "not valid TOML"),
])
def test_invalid_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config(_write(tmp_path, text))
    assert isinstance(info.value, CEMEngineError)
    assert "engine.toml" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_lexicon_addition_changes_the_reading_without_code(tmp_path: Path) -> None:
    data = ContactInput(contact=ContactFacts(contact_id="c"), interactions=(Interaction(
        id="i", contact_id="c", kind="email", direction="inbound", occurred_at=NOW,
        body="The sunset of the classic editor affects our team."),))
    assert analyze(data, now=NOW).emotion == "neutral"
    tuned = load_config(_write(tmp_path, "[lexicon.words]\nsunset = -3.0\n"))
    assert analyze(data, now=NOW, config=tuned).emotion_score < -20


def test_competitor_names_become_cues(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, '[reasons]\ncompetitor_names = ["Trackwell", "Acme CRM"]\n'))
    cues = config.taxonomy.reasons["competitor"].cues
    assert "trackwell" in cues and "acme crm" in cues
