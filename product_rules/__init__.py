"""The product configurator: rule sets, their checks, the engine and answer parsing.

Pure Python; no Rasa import anywhere in this package.
"""
