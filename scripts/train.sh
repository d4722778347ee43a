#!/usr/bin/env bash
# Train the Rasa model only when config.yml or bot/ changed since the last training:
# the fingerprint is a hash of their contents, stored beside the model.
set -euo pipefail
cd "$(dirname "$0")/.."
fingerprint="$(find config.yml bot/domain bot/data -type f -name '*.yml' -print0 | sort -z \
  | xargs -0 sha256sum | sha256sum | cut -c1-16)"
stamp=bot/models/.fingerprint
if [ "${1:-}" != "--force" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ] \
   && ls bot/models/*.tar.gz >/dev/null 2>&1; then
  echo "model is up to date (fingerprint $fingerprint)"
  exit 0
fi
echo "training the Rasa model (config.yml or bot/ changed; about a minute)…"
rm -rf bot/models && mkdir -p bot/models var
start=$(date +%s)
RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1 \
  .venv-rasa/bin/rasa train --config config.yml --domain bot/domain --data bot/data \
  --out bot/models --fixed-model-name advisor
echo "$fingerprint" > "$stamp"
echo "trained in $(( $(date +%s) - start )) s: bot/models/advisor.tar.gz"
