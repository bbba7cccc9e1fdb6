#!/usr/bin/env bash
# Packages the VS Code extension into a .vsix (default: target/acteon-vscode.vsix): installs
# its one dependency (vscode-languageclient) and the packaging tool (@vscode/vsce) from the npm
# registry, then runs `vsce package`, which checks the manifest, the grammar and the files.
# Needs Node.js and npm; not part of scripts/test.sh. Install the result with
# `code --install-extension target/acteon-vscode.vsix`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../target/acteon-vscode.vsix}"
mkdir -p "$(dirname "$out")"
cd "$here"
# No lock file is kept: the dependency is pinned exactly in package.json.
npm install --omit=dev --no-package-lock --no-audit --no-fund
npx --yes @vscode/vsce@3.7.1 package --skip-license --allow-missing-repository --out "$out"
echo "packaged $out"
