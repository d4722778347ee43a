"""The shop's web app: FastAPI, Jinja2 templates and the chat widget.

Start it with ``uvicorn web.app:create_app --factory``. Nothing is imported here so that
routers can import ``web.deps`` without pulling in the app factory (no import cycle).
"""
