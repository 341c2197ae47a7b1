-- pgch.lua — the prelude: helpers every config can use through the global `pgch`.
--
-- The build compiles this file into the binary (GNUmakefile turns it into a C string that
-- orchestrator/config.c runs in the config's sandbox before the config itself), so a config
-- never depends on files installed next to pgch. The helpers only edit the table an
-- on_table(t) hook receives; pgch validates the result as it validates the config's own
-- options. Errors name the caller's line in the config, not a line of this file.
local pgch = {}

-- A ClickHouse identifier, backquoted.
local function ident(s)
  return "`" .. s:gsub("\\", "\\\\"):gsub("`", "\\`") .. "`"
end
pgch.ident = ident

local function find_column(t, name, level)
  for _, c in ipairs(t.columns) do
    if c.name == name then return c end
  end
  local names = {}
  for _, c in ipairs(t.columns) do names[#names + 1] = c.name end
  error(("%s has no replicated column %q (its columns: %s)"):format(t.source, tostring(name),
    table.concat(names, ", ")), level + 1)
end

-- pgch.column(t, name): the entry of column `name` in t.columns (an error if there is none).
function pgch.column(t, name)
  return find_column(t, name, 2)
end

-- pgch.set_type(t, name, ch_type): give a column another ClickHouse type, for example
-- pgch.set_type(t, "payload", "String") to keep a value's text form.
function pgch.set_type(t, name, ch_type)
  if type(ch_type) ~= "string" then
    error("pgch.set_type: the ClickHouse type must be a string such as \"String\"", 2)
  end
  find_column(t, name, 2).ch_type = ch_type
end

-- pgch.add_column(t, name, ch_type, expression [, kind]): a column ClickHouse computes from the
-- replicated ones when a row is inserted, so pgch spends nothing on it per row, for example
-- pgch.add_column(t, "order_month", "UInt32", "toYYYYMM(order_date)"). kind "materialized"
-- (the default: stored, left out of SELECT *) or "default" (stored, shown by SELECT *).
function pgch.add_column(t, name, ch_type, expression, kind)
  kind = kind or "materialized"
  local args = { name, ch_type, expression }
  for i, what in ipairs({ "name", "ClickHouse type", "expression" }) do
    if type(args[i]) ~= "string" or args[i] == "" then
      error(("pgch.add_column: the %s must be a non-empty string"):format(what), 2)
    end
  end
  if kind ~= "materialized" and kind ~= "default" then
    error(("pgch.add_column: kind must be \"materialized\" or \"default\", got %q"):format(tostring(kind)), 2)
  end
  local taken = { [t.version_column] = true, [t.is_deleted_column] = true, [t.synced_at_column] = true }
  for _, c in ipairs(t.columns) do taken[c.ch_name or c.name] = true end -- ClickHouse names (renamed ones too)
  for _, d in ipairs(t.derived) do taken[d.name] = true end
  if taken[name] then
    error(("pgch.add_column: %s already has a column %q"):format(t.target, name), 2)
  end
  t.derived[#t.derived + 1] = { name = name, ch_type = ch_type, expression = expression, kind = kind }
end

-- pgch.live_view(t [, name]): add a view (default <target>_live) that reads the table as the
-- source has it now: the newest version of each row (FINAL), deleted rows left out.
function pgch.live_view(t, name)
  name = name or (t.target .. "_live")
  if type(name) ~= "string" or name == "" then
    error("pgch.live_view: the view name must be a non-empty string", 2)
  end
  -- on a cluster, on every node (a Distributed target reads every shard)
  local on_cluster = t.cluster ~= "" and (" ON CLUSTER " .. ident(t.cluster)) or ""
  t.after[#t.after + 1] = ("CREATE VIEW IF NOT EXISTS %s.%s%s AS SELECT * FROM %s.%s FINAL WHERE %s = 0")
    :format(ident(t.database), ident(name), on_cluster, ident(t.database), ident(t.target), ident(t.is_deleted_column))
  return name
end

return pgch
