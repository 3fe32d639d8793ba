"""Exit intent is read from what is left and where to: a new office is not a new vendor."""

from __future__ import annotations

import pytest

from cem_engine.intent import exit_intent


@pytest.mark.parametrize("sentence", [
    "We're moving to a new provider next quarter.",
    "We are switching to a different vendor.",
    "We will migrate to a new platform in March.",
    "We're moving over to another tool.",
])
def test_a_move_to_another_supplier_is_an_exit(sentence: str) -> None:
    assert exit_intent(sentence)


@pytest.mark.parametrize("sentence", [
    "We're moving to a new office next month.",
    "We are moving to a new building, please update the delivery address.",
    "We will switch to the annual plan.",
])
def test_a_move_of_house_or_plan_is_not_an_exit(sentence: str) -> None:
    assert exit_intent(sentence) is None
