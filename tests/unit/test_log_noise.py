"""The launcher drops Rasa's dependency deprecation warnings, keeps everything else."""

from __future__ import annotations

from web.stack import DeprecationNoise

RASA_START = """\
/x/rasa/shared/utils/validation.py:134: DeprecationWarning: pkg_resources is deprecated.
  import pkg_resources
/x/pkg_resources/__init__.py:3117: DeprecationWarning: Deprecated call to declare_namespace.
Implementing implicit namespace packages (as specified in PEP 420) is preferred.
  declare_namespace(pkg)
/x/matplotlib/fontconfig_pattern.py:66: PyparsingDeprecationWarning: 'setParseAction'
  ).setParseAction(self._family)
/x/rasa/core/tracker_store.py:1044: MovedIn20Warning: Deprecated API features!
  Base: DeclarativeMeta = declarative_base()
2026-12-04 01:53:04 INFO     root  - Starting Rasa server on http://127.0.0.1:5005
/x/site-packages/rasa/core/x.py:9: UserWarning: your domain has a problem
  something
Traceback (most recent call last):
  File "a.py", line 1, in <module>
ValueError: boom
2026-12-04 01:53:14 INFO     root  - Rasa server is up and running."""


def test_deprecation_warnings_are_dropped_and_the_rest_kept() -> None:
    noise = DeprecationNoise()
    kept = [line for line in RASA_START.splitlines() if not noise.is_noise(line)]
    assert kept == [
        "2026-12-04 01:53:04 INFO     root  - Starting Rasa server on http://127.0.0.1:5005",
        "/x/site-packages/rasa/core/x.py:9: UserWarning: your domain has a problem",
        "  something",
        "Traceback (most recent call last):",
        '  File "a.py", line 1, in <module>',
        "ValueError: boom",
        "2026-12-04 01:53:14 INFO     root  - Rasa server is up and running.",
    ]
