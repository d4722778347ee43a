"""Custom actions of the baseline form bot: slot validation and one catalogue query.

Written the way the Rasa 3.6 docs show forms ("Forms", "Validating Form Input"): a
``FormValidationAction`` with one ``validate_<slot>`` method per slot, and a custom
action run when the form is submitted. The catalogue is a SQLite file given by
``CATALOGUE_DB`` (the bench builds the demo catalogue there).
"""

import os
import re
import sqlite3
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

USAGE = {
    "endurance": ["endurance", "long", "weekend", "fitness", "touring", "tour", "comfort"],
    "racing": ["racing", "race", "fast", "competition", "triathlon"],
    "commute": ["commute", "commuting", "work", "office", "city", "daily"],
}
EXPERIENCE = {
    "beginner": ["beginner", "newbie", "new", "novice", "first", "never", "none"],
    "intermediate": ["intermediate", "regular", "regularly", "sometimes", "hobby"],
    "racer": ["racer", "expert", "experienced", "advanced", "pro", "race"],
}
SHOES = {
    "spd_sl": ["spd-sl", "spd sl", "spdsl", "spd_sl"],
    "look_keo": ["look", "keo", "look_keo"],
    "spd": ["spd", "mtb", "2-bolt"],
    "none": ["no", "none", "nope", "normal", "sneakers", "trainers"],
}
GEOMETRY = {
    "endurance": ("endurance", "allroad", "comfort"),
    "racing": ("race", "aero"),
    "commute": ("endurance", "allroad", "comfort"),
}


def pick(value: Any, choices: dict[str, list[str]]) -> str | None:
    """The choice whose keywords occur in ``value`` (a button value or free text)."""
    text = str(value or "").lower()
    if text in choices:
        return text
    for choice, words in choices.items():
        for word in words:
            if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text):
                return choice
    return None


def number(value: Any) -> float | None:
    """The first number in ``value``: "about 1.5k" is 1500, "€2,000" is 2000."""
    text = str(value or "").lower().replace(" ", "")
    match = re.search(r"(\d+(?:[.,]\d+)*)(k)?", text)
    if not match:
        return None
    digits, thousands = match.group(1), match.group(2)
    if re.fullmatch(r"\d{1,3}([.,]\d{3})+", digits):
        amount = float(re.sub(r"[.,]", "", digits))
    else:
        amount = float(digits.replace(",", "."))
    return amount * 1000 if thousands else amount


def height_cm(value: Any) -> float | None:
    """A body height in cm from "182", "182 cm", "1,82 m" or "6 foot 1"."""
    text = str(value or "").lower()
    feet = re.search(r"(\d)\s*(?:foot|feet|ft|')\s*(\d{1,2})?", text)
    if feet:
        return round(int(feet.group(1)) * 30.48 + int(feet.group(2) or 0) * 2.54)
    amount = number(text)
    if amount is not None and amount < 3:
        amount *= 100  # metres
    return amount


class ValidateBikeForm(FormValidationAction):
    """Checks and normalises every slot of ``bike_form``."""

    def name(self) -> str:
        return "validate_bike_form"

    def validate_usage(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        usage = pick(slot_value, USAGE)
        if usage is None:
            dispatcher.utter_message(response="utter_invalid_choice")
        return {"usage": usage}

    def validate_experience(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        experience = pick(slot_value, EXPERIENCE)
        if experience is None:
            dispatcher.utter_message(response="utter_invalid_choice")
        return {"experience": experience}

    def validate_budget(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        budget = number(slot_value)
        if budget is None or not 200 <= budget <= 20000:
            dispatcher.utter_message(response="utter_invalid_budget")
            return {"budget": None}
        return {"budget": budget}

    def validate_body_height(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        height = height_cm(slot_value)
        if height is None or not 120 <= height <= 220:
            dispatcher.utter_message(response="utter_invalid_body_height")
            return {"body_height": None}
        return {"body_height": height}

    def validate_shoes(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        shoes = pick(slot_value, SHOES)
        if shoes is None:
            dispatcher.utter_message(response="utter_invalid_choice")
        return {"shoes": shoes}


class ActionRecommend(Action):
    """Three road bikes that fit: frame size from the height, in budget first."""

    def name(self) -> str:
        return "action_recommend"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        budget = float(tracker.get_slot("budget"))
        frame = round(float(tracker.get_slot("body_height")) * 0.32)
        geometry = GEOMETRY.get(tracker.get_slot("usage"), GEOMETRY["endurance"])
        connection = sqlite3.connect(os.environ["CATALOGUE_DB"])
        try:
            rows = connection.execute(
                "SELECT sku, name, price, frame_size_cm, geometry FROM product"
                " WHERE category = 'road_bike' AND stock > 0"
                " AND frame_size_cm BETWEEN ? AND ? AND geometry IN (?, ?, ?)"
                " ORDER BY price <= ? DESC,"
                " CASE WHEN price <= ? THEN -price ELSE price END"
                " LIMIT 3",
                (frame - 2, frame + 2, *(geometry * 3)[:3], budget, budget),
            ).fetchall()
        finally:
            connection.close()
        if not rows:
            dispatcher.utter_message(response="utter_no_bikes")
            return []
        offers = [
            {"sku": sku, "name": name, "price": price, "frame_size_cm": size, "geometry": geo}
            for sku, name, price, size, geo in rows
        ]
        dispatcher.utter_message(text=f"Here are {len(offers)} road bikes for you:")
        dispatcher.utter_message(json_message={"type": "offers", "offers": offers})
        return []
