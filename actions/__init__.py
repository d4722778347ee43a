"""Rasa SDK actions: thin adapters that parse an answer, call the engine and render.

Run with ``rasa_sdk --actions actions``. No business logic lives here: what to ask and
what to offer comes from :mod:`product_rules`, products from :mod:`catalog`.
"""
