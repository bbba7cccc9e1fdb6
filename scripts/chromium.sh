#!/usr/bin/env bash
# Installs the browser the console's browser tests drive, when it is missing: Debian's
# `chromium` and `chromium-driver` packages (/usr/bin/chromium, /usr/bin/chromedriver), with
# apt-get. Never downloads a browser any other way. Needs root (or sudo) to install; does
# nothing when both are already there.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium.sh: install Chromium and its WebDriver (chromedriver) with your distribution's packages" >&2
  exit 1
fi
as_root=()
if [[ $(id -u) -ne 0 ]]; then
  as_root=(sudo)
fi
echo "chromium.sh: installing chromium and chromium-driver (apt-get)" >&2
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
  chromium chromium-driver >&2
command -v chromium >/dev/null && command -v chromedriver >/dev/null
