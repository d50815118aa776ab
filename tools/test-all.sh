#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: installs the real peers the tests talk to
# (SIPp from Debian's sip-tester, Kamailio, Gammu, Chromium and the browser test's npm
# package), then formatting, lints and every test of the workspace.
# Usage: tools/test-all.sh   (as root, or as a user with sudo, on Debian with Rust)
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the tests need: command -> Debian package.
declare -A packages=([sipp]=sip-tester [kamailio]=kamailio [gammu]=gammu [chromium]=chromium [node]=nodejs [npm]=npm)
missing=()
for cmd in "${!packages[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${packages[$cmd]}")
done
# Libraries have no command to look for: ALSA headers for the media crate's cpal feature.
dpkg -s libasound2-dev >/dev/null 2>&1 || missing+=(libasound2-dev)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing test dependencies: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The status-page browser test drives Chromium with playwright-core (locked version).
npm ci --prefix web/tests/browser --no-audit --no-fund --silent

# The machine has 2 cores; keep builds and test threads sized for it.
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export INSTA_UPDATE=no

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The USB-audio backend is behind a feature: make sure it still compiles.
cargo check -p cellgate-media --features cpal --locked
cargo test --workspace --locked
