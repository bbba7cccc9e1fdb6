-- Acteon for Neovim 0.7 or newer: `.acteon` files get their filetype, `#` comments, the
-- syntax file beside this one, and the language server (`acteon lsp`, found on PATH).
-- Add this folder to the runtime path: `set runtimepath+=/path/to/acteon/editors/nvim`.

vim.api.nvim_create_autocmd({ 'BufRead', 'BufNewFile' }, {
  pattern = '*.acteon',
  callback = function()
    vim.bo.filetype = 'acteon'
  end,
})

local client_id = nil

vim.api.nvim_create_autocmd('FileType', {
  pattern = 'acteon',
  callback = function(args)
    vim.bo[args.buf].commentstring = '# %s'
    local config = {
      name = 'acteon',
      cmd = { vim.g.acteon_path or 'acteon', 'lsp' },
      root_dir = vim.fn.getcwd(),
    }
    if vim.lsp.start then
      -- 0.8 and newer: reuses the running server.
      vim.lsp.start(config, { bufnr = args.buf })
    else
      client_id = client_id or vim.lsp.start_client(config)
      vim.lsp.buf_attach_client(args.buf, client_id)
    end
  end,
})
