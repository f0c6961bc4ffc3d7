#!/usr/bin/env bash
# Sets up what is missing and starts the site at http://127.0.0.1:3000 in
# sandbox mode (SQLite in data/, no WeChat account needed). Rebuilds and
# reloads when the code changes. Ctrl-C stops it.
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$ROOT/scripts/setup.sh"
cd "$ROOT"
# Articles are written by the built-in DeepSeek sandbox unless told otherwise
# (DEEPSEEK_SANDBOX=0 with DEEPSEEK_API_KEY set writes with the real DeepSeek).
export DEEPSEEK_SANDBOX="${DEEPSEEK_SANDBOX:-1}"
echo
echo "Building… the first build takes several minutes. Then open http://127.0.0.1:3000"
exec cargo leptos watch --split "$@"
