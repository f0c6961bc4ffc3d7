# Shared by the scripts: where builds go and where tools are found.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

# Builds live outside the clone so a fresh clone (as CI makes) reuses them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wensi/target}"
# Tools installed by setup.sh: cargo's bin and the npm packages' bin
# (wasm-opt from binaryen, playwright).
export PATH="$HOME/.cargo/bin:$ROOT/end2end/node_modules/.bin:$PATH"

# The release server binary cargo-leptos builds.
export SERVER_BIN="$CARGO_TARGET_DIR/release/server"
