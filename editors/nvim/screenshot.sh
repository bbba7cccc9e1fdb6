#!/usr/bin/env bash
# Takes docs/images/nvim-diagnostic.png: Neovim (Debian's package) with the plugin in this
# folder, in an xterm on a virtual X display, editing a copy of the seed's routing.acteon with
# a mistyped provider, once `acteon lsp` has published its diagnostic and the diagnostic's
# float is open. Needs: apt-get install neovim xvfb xterm imagemagick fonts-dejavu-core, and
# the acteon binary (ACTEON, default target/debug/acteon).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
acteon="$(realpath "${ACTEON:-$repo/target/debug/acteon}")"
out="${1:-$repo/docs/images/nvim-diagnostic.png}"
work="$(mktemp -d)"
trap 'kill "${xvfb:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

cp "$repo"/pipelines/aws-event-pipeline/*.acteon "$repo"/pipelines/aws-event-pipeline/telemetry.jsonl "$work/"
sed -i '0,/then reroute alert-fanout$/s//then reroute alert-fanot/' "$work/routing.acteon"
line="$(grep -n 'reroute alert-fanot' "$work/routing.acteon" | head -1 | cut -d: -f1)"
cat > "$work/init.lua" <<LUA
vim.opt.runtimepath:append('$repo/editors/nvim')
vim.g.acteon_path = '$acteon'
vim.opt.termguicolors = false
vim.opt.number = true
vim.opt.signcolumn = 'yes'
vim.cmd('syntax on')
-- Neovim 0.7 draws floats in the popup-menu colours (magenta); a dark grey reads better.
vim.cmd('highlight NormalFloat ctermbg=237 ctermfg=252')
vim.cmd('highlight FloatBorder ctermbg=237 ctermfg=245')
vim.cmd('highlight DiagnosticFloatingError ctermfg=210')
vim.diagnostic.config({ virtual_text = true, float = { border = 'single', source = 'always' } })
vim.defer_fn(function()
  vim.api.nvim_win_set_cursor(0, { $line, 16 })
  vim.diagnostic.open_float(0, { scope = 'line', close_events = {} })
end, 4000)
LUA

Xvfb :91 -screen 0 1000x620x24 >/dev/null 2>&1 &
xvfb=$!
sleep 1
cd "$work"
DISPLAY=:91 xterm -tn xterm-256color -geometry 110x32+0+0 -fa 'DejaVu Sans Mono' -fs 11 -bg '#1e1e1e' -fg '#d4d4d4' \
  -e nvim -u "$work/init.lua" routing.acteon &
term=$!
sleep 8
DISPLAY=:91 import -window root -crop 1000x620+0+0 "$out"
kill "$term" 2>/dev/null || true
echo "wrote $out"
