"""Prices, availability and attribute values as feeds write them."""

from __future__ import annotations

import pytest

from catalog.attributes import vocabulary
from catalog.importing.availability import stock_for
from catalog.importing.prices import PriceError, parse_price
from catalog.importing.values import read_value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.299,00 EUR", (1299.0, "EUR")),
        ("1299.00 EUR", (1299.0, "EUR")),
        ("1299,00 €", (1299.0, "EUR")),
        ("€ 49.90", (49.9, "EUR")),
        ("1,299.00 USD", (1299.0, "USD")),
        ("44.90", (44.9, "EUR")),
        ("24,9", (24.9, "EUR")),
        ("12.345.678", (12345678.0, "EUR")),
        ("CHF 89.00", (89.0, "CHF")),
        ("699", (699.0, "EUR")),
    ],
    ids=lambda v: str(v),
)
def test_read_prices_in_both_notations(text: str, expected: tuple[float, str]) -> None:
    assert parse_price(text, "EUR") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no price"),
        ("abc", "is not a number"),
        ("1,299 EUR", "ambiguous"),
        ("1.299", "ambiguous"),
        ("-5.00 EUR", "negative"),
    ],
    ids=["empty", "words", "comma-thousands", "dot-thousands", "negative"],
)
def test_refuse_prices_that_are_not_clear(text: str, message: str) -> None:
    with pytest.raises(PriceError, match=message):
        parse_price(text, "EUR")


@pytest.mark.parametrize(
    ("word", "quantity", "expected"),
    [
        ("in_stock", None, (1, "in_stock")),
        ("in stock", 7, (7, "in_stock")),
        ("out_of_stock", 5, (0, "out_of_stock")),
        ("preorder", None, (0, "preorder")),
        ("backorder", None, (0, "backorder")),
        ("Lieferbar", None, (1, "in_stock")),
        ("", 3, (3, "in_stock")),
        ("", -2, (0, "out_of_stock")),
        ("https://schema.org/InStock", None, (1, "in_stock")),
    ],
    ids=lambda v: str(v),
)
def test_turn_availability_into_stock(
    word: str, quantity: int | None, expected: tuple[int, str]
) -> None:
    assert stock_for(word, quantity, 1) == expected


def test_refuse_an_unknown_availability() -> None:
    with pytest.raises(ValueError, match="'vielleicht' is none of in_stock"):
        stock_for("vielleicht", None, 1)


@pytest.mark.parametrize(
    ("attribute", "text", "expected"),
    [
        ("frame_size_cm", "56 cm", 56),
        ("frame_size_cm", "56", 56),
        ("frame_size_cm", "M", 54),
        ("weight_kg", "0,36 kg", 0.36),
        ("weight_kg", "9800 g", 9.8),
        ("cleat_system", "SPD-SL", "spd_sl"),
        ("cleat_system", "Look Keo", "look_keo"),
        ("pedals_included", "ja", True),
        ("pedals_included", "FALSE", False),
        ("size", "Gr. M", "M"),
        ("shoe_size_eu", "EU 42,5", 42.5),
        ("wheel_size", "27.5", "27.5"),
    ],
    ids=lambda v: str(v),
)
def test_read_attribute_values(attribute: str, text: str, expected: object) -> None:
    assert read_value(vocabulary()[attribute], text, {"M": 54}) == expected


@pytest.mark.parametrize(
    ("attribute", "text", "message"),
    [
        ("frame_size_cm", "XL", "letter size the mapping's sizes table"),
        ("frame_size_cm", "56 mm", "is not in cm"),
        ("gears", "11.5", "not a whole number"),
        ("cleat_system", "spd-s", "did you mean 'spd_sl'"),
        ("motor", "vielleicht", "is not yes or no"),
    ],
    ids=lambda v: str(v),
)
def test_refuse_attribute_values(attribute: str, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_value(vocabulary()[attribute], text, {"M": 54})
