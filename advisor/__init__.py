"""The advisor service: one conversation state and one step for every face.

The shopper's chat (through Rasa's actions), the staff console and the rule preview all
call this package; it holds no Rasa and no FastAPI import. It sits between the
front-ends and :mod:`product_rules` (the configurator) and owns what to ask next, how an
answer is read and what is offered, plus staff accounts, assisted sessions, overrides,
share codes and the audit log.
"""
