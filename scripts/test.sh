#!/usr/bin/env bash
# Runs every test: formatting, lints (server and wasm), unit and integration
# tests, then the browser tests in Chromium against a release build.
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$ROOT/scripts/setup.sh"
cd "$ROOT"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (server side)"
cargo clippy --all-targets -- -D warnings
step "cargo clippy (browser side, wasm32)"
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

step "cargo test"
cargo test

step "release build (cargo leptos build --release --precompress --split)"
cargo leptos build --release --precompress --split

step "load check (loadtest --quick: no login lost or duplicated under load)"
LOADTEST_SERVER="$SERVER_BIN" cargo test -- --ignored --exact a_quick_run_loses_no_login --nocapture

step "browser tests (Playwright, Chromium)"
cd end2end
npx playwright test
