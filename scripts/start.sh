#!/usr/bin/env bash
# Sets up what is missing and starts the site at http://127.0.0.1:3000 in
# sandbox mode (SQLite in data/, no WeChat account needed). Rebuilds and
# reloads when the code changes. Ctrl-C stops it.
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$ROOT/scripts/setup.sh"
cd "$ROOT"
# The sandbox runs only when asked for. This development command asks for
# it, unless WECHAT_SANDBOX is set already or real credentials are given
# (in the environment or in .env).
if [[ -z "${WECHAT_SANDBOX+x}" && -z "${WECHAT_APPSECRET:-}" ]] \
  && ! grep -qsE '^[[:space:]]*(export[[:space:]]+)?(WECHAT_SANDBOX|WECHAT_APPSECRET)[[:space:]]*=' .env; then
  export WECHAT_SANDBOX=1
fi
# The same for the DeepSeek sandbox: on unless set or a real key is given.
if [[ -z "${DEEPSEEK_SANDBOX+x}" && -z "${DEEPSEEK_API_KEY:-}" ]] \
  && ! grep -qsE '^[[:space:]]*(export[[:space:]]+)?(DEEPSEEK_SANDBOX|DEEPSEEK_API_KEY)[[:space:]]*=' .env; then
  export DEEPSEEK_SANDBOX=1
fi
echo
echo "Building… the first build takes several minutes. Then open http://127.0.0.1:3000"
exec cargo leptos watch --split "$@"
