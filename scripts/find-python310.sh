#!/usr/bin/env bash
# Print the path of a working Python 3.10 interpreter for Rasa 3.6, or explain how to get one.
# Looks at: $PYTHON310, python3.10 on PATH (pyenv shims can exist without the version
# behind them, so each candidate is run), pyenv's versions, then `uv python find 3.10`.
set -u
works() { "$1" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; }
resolve() { "$1" -c 'import sys; print(sys.executable)'; }
candidates=()
[ -n "${PYTHON310:-}" ] && candidates+=("$PYTHON310")
command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*; do
  [ -x "$dir/bin/python3.10" ] && candidates+=("$dir/bin/python3.10")
done
for candidate in "${candidates[@]}"; do
  if works "$candidate"; then resolve "$candidate"; exit 0; fi
done
UV="${UV:-uv}"
if found="$("$UV" python find 3.10 2>/dev/null)" && works "$found"; then
  echo "$found"; exit 0
fi
cat >&2 <<'MSG'
Rasa Open Source 3.6 needs Python 3.10, and none was found
(looked at $PYTHON310, python3.10 on PATH, ~/.pyenv/versions/3.10*, `uv python find 3.10`).
Install one with:   .tools/bin/uv python install 3.10   (or: pyenv install 3.10)
or point to one:    make run PYTHON310=/path/to/python3.10
MSG
exit 1
