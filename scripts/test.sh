#!/usr/bin/env bash
# The README's test command: every check and every test, on a fresh machine.
# Installs what is missing (cargo-nextest; Chromium and chromedriver from the distribution's
# packages, for the console's browser tests), and starts the services the tests need
# (scripts/services.sh: the Kafka broker and the AWS emulator) once, stopping them at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

step "the browser the console's tests drive: Debian's chromium and chromium-driver (installed when missing)"
scripts/chromium.sh

step "services the tests need: the Kafka broker and the AWS emulator (stopped at exit)"
trap 'scripts/services.sh down' EXIT
scripts/services.sh up
pipelines/aws-event-pipeline/scripts/setup.sh

step "tests"
cargo nextest run --workspace --locked --no-fail-fast

step "doc tests"
cargo test --workspace --doc --locked

step "the seed pipeline's own checks and tests, through the binary"
# The binary the tests ran: `cargo run -p acteon-cli` would resolve features for that one
# package and build the dependencies a second time.
acteon="${CARGO_TARGET_DIR:-target}/debug/acteon"
"$acteon" check --deny-warnings pipelines/aws-event-pipeline/*.acteon
"$acteon" fmt --check pipelines/aws-event-pipeline/*.acteon
"$acteon" test pipelines/aws-event-pipeline/expected-outcomes.acteon
