-- Headless Neovim (0.7+) as an orps-lsp client: open a file, run orps.optimize on
-- one line through workspace/executeCommand, let Neovim's own workspace/applyEdit
-- handler change the buffer, then write the buffer text and the command's answer.
--
--   ORPS_FILE=... ORPS_LINE=5 ORPS_OUT=out.py ORPS_PYTHON=python \
--     nvim --headless --clean -u NONE -c "luafile tests/nvim/optimize.lua"
--
-- Writes ORPS_OUT (the buffer) and ORPS_OUT.json ({result, error, messages}); exits 0
-- when the command answered, 1 otherwise.

local file = assert(os.getenv("ORPS_FILE"), "ORPS_FILE is required")
local line = tonumber(os.getenv("ORPS_LINE") or "0")
local out = assert(os.getenv("ORPS_OUT"), "ORPS_OUT is required")
local python = os.getenv("ORPS_PYTHON") or "python3"
local timeout_ms = tonumber(os.getenv("ORPS_TIMEOUT_MS") or "120000")

local messages = {}

local function finish(code, answer)
  local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  local text = io.open(out, "w")
  text:write(table.concat(lines, "\n") .. "\n")
  text:close()
  answer.messages = messages
  local json = io.open(out .. ".json", "w")
  json:write(vim.fn.json_encode(answer))
  json:close()
  vim.cmd(code == 0 and "qall!" or "cquit! " .. code)
end

vim.cmd("edit " .. vim.fn.fnameescape(file))
local bufnr = vim.api.nvim_get_current_buf()

local client_id = vim.lsp.start_client({
  name = "orps-lsp",
  cmd = { python, "-m", "orps_lsp.cli", "--stdio" },
  root_dir = vim.fn.fnamemodify(file, ":p:h"),
  init_options = { beamWidth = 1, expansions = 1, depth = 1 },
  handlers = {
    -- Headless: no one to click. Pick "Apply" as a user would.
    ["window/showMessageRequest"] = function(_, request)
      table.insert(messages, request.message)
      return { title = "Apply" }
    end,
    ["window/showMessage"] = function(_, notice)
      table.insert(messages, notice.message)
    end,
  },
})
if not client_id then
  finish(1, { error = "vim.lsp.start_client failed" })
  return
end
vim.lsp.buf_attach_client(bufnr, client_id)

local function initialized()
  for _, client in ipairs(vim.lsp.get_active_clients()) do
    if client.id == client_id then
      return true
    end
  end
  return false
end
if not vim.wait(30000, initialized, 50) then
  finish(1, { error = "the server did not initialize" })
  return
end

local answered, result, failure = false, nil, nil
local params = {
  command = "orps.optimize",
  arguments = { { uri = vim.uri_from_bufnr(bufnr), position = { line = line, character = 4 },
                  version = vim.lsp.util.buf_versions[bufnr] } },
}
vim.lsp.buf_request(bufnr, "workspace/executeCommand", params, function(err, res)
  answered, result, failure = true, res, err
end)
vim.wait(timeout_ms, function() return answered end, 100)

vim.lsp.stop_client(client_id)
vim.wait(5000, function() return vim.lsp.get_client_by_id(client_id) == nil end, 50)
if not answered then
  finish(1, { error = "no answer to orps.optimize within " .. timeout_ms .. " ms" })
else
  finish(0, { result = result, error = failure and failure.message or vim.NIL })
end
