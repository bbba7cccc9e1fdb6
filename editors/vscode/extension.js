// Starts `acteon lsp` for .acteon files. Everything the editor shows (diagnostics, definitions,
// hover, completion, formatting, quick fixes) comes from the language server; this file only
// says how to start it.
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate() {
  const config = vscode.workspace.getConfiguration('acteon');
  const args = ['lsp'];
  if (config.get('sample')) {
    args.push('--sample', config.get('sample'));
  }
  if (config.get('server')) {
    args.push('--server', config.get('server'));
  }
  const server = { command: config.get('path') || 'acteon', args };
  client = new LanguageClient('acteon', 'Acteon', server, {
    documentSelector: [{ scheme: 'file', language: 'acteon' }],
  });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
