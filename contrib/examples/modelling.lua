-- modelling.lua — data modelling at the row level on the Northwind sample
-- (contrib/datasets/northwind): a row filter, column renames, a derived column and a row hook
-- that masks personal data. The README's "Data modelling hooks" explains each one.
--
--   createdb northwind && psql -d northwind -f contrib/datasets/northwind/northwind.sql
--   PGHOST=127.0.0.1 PGPORT=5432 CH_URL=http://127.0.0.1:8123 pgch plan contrib/examples/modelling.lua

source = { dbname = env("PGDATABASE", "northwind"), application_name = "pgch-modelling" }
destination = { url = env("CH_URL", "http://127.0.0.1:8123"), database = env("CH_DATABASE", "northwind_model") }
pipe = { name = "northwind_model", sync_interval = 10 }

-- Digits of a phone number but the last two become '#': "(171) 555-7788" -> "(###) ###-##88".
-- Runs in pgch for every row of the tables it is given to, in the snapshot and the stream alike.
local function mask_phone(s)
  if s == nil then return nil end                 -- NULL stays NULL
  local digits = select(2, s:gsub("%d", ""))
  return (s:gsub("%d", "#", math.max(digits - 2, 0)))
end

tables = {
  -- Only the orders from 10300 on reach ClickHouse. The filter is a SQL condition: the
  -- snapshot reads with it and the publication filters the stream with it (PostgreSQL 15+),
  -- so an order moved below 10300 is deleted in ClickHouse. A filter may read only key
  -- columns unless the table has REPLICA IDENTITY FULL (pgch says so otherwise).
  -- Two columns get the warehouse's names: ClickHouse has `ordered_on` and `city`, PostgreSQL
  -- keeps order_date and ship_city. Everything in the entry (where, order_by, types, ...) and
  -- the row hook name source columns; partition_by and derived columns are ClickHouse SQL and
  -- use the ClickHouse names (see on_table below).
  { "public.orders", where = "order_id >= 10300",
    columns = { order_date = "ordered_on", ship_city = "city" } },

  -- The customers' phone and fax numbers are masked before they leave pgch. A row hook sees
  -- the whole row: integers and floats as numbers, booleans as booleans, NULL as nil and
  -- everything else as PostgreSQL prints it. It returns the row, or nil to leave it out.
  -- It may not change key columns (customer_id here).
  { "public.customers", on_row = function(t, row)
      row.phone = mask_phone(row.phone)
      row.fax = mask_phone(row.fax)
      return row
    end },

  "public.products",
}

function on_table(t)
  if t.source == "public.orders" then
    -- computed by ClickHouse as rows arrive (MATERIALIZED): pgch spends nothing on it. The
    -- expression is ClickHouse's, over the renamed column.
    pgch.add_column(t, "order_month", "Nullable(UInt32)", "toYYYYMM(ordered_on)")
  end
end
