-- northwind.lua — a complete pipe for the Northwind sample (contrib/datasets/northwind),
-- with the settings a production pipe usually sets. Copy it and change the names.
--
--   createdb northwind && psql -d northwind -f contrib/datasets/northwind/northwind.sql
--   PGHOST=127.0.0.1 PGPORT=5432 CH_URL=http://127.0.0.1:8123 pgch plan contrib/examples/northwind.lua
--
-- The config is Lua in a sandbox: env("NAME", default) and file("path") are the only ways in.

source = {                                   -- libpq keywords; PGHOST, PGPORT, PGUSER,
  dbname = env("PGDATABASE", "northwind"),   -- PGPASSWORD and ~/.pgpass apply as usual
  application_name = "pgch-northwind",
}

destination = {
  url = env("CH_URL", "http://127.0.0.1:8123"),
  database = env("CH_DATABASE", "northwind"),
  user = env("CH_USER", "default"),
  password = env("CH_PASSWORD", ""),
  compression = "auto",                      -- zstd where the server takes it
}

pipe = {
  name = "northwind",                        -- slot and publication: pgch_northwind
  sync_interval = 10,                        -- seconds a change may wait in pgch
  batch_size = 100000,                       -- rows per batch ("pull batch size")
  heartbeat_interval = 60,                   -- keeps the slot moving when these tables are idle
  snapshot = { workers = 2, rows_per_partition = 1000000, tables_in_parallel = 2 },
}

tables = {
  "public.*",
  exclude = { "public.us_states" },          -- not wanted in the warehouse
  -- keep the photos out of ClickHouse; birth dates before 1970 do not fit an old server's
  -- Date, so keep their text form
  { "public.employees", exclude_columns = { "photo", "photo_path" },
    types = { birth_date = "String" } },
  -- read by product more than by order: order by product first (the primary key must stay
  -- in ORDER BY, so rows still deduplicate exactly); partitions may only use those columns
  { "public.order_details", target = "order_lines", order_by = { "product_id", "order_id" },
    partition_by = "intDiv(order_id, 1000)" },
}

-- Data modelling: every table also gets a view, <target>_live, that reads only its current
-- rows (the built-in helpers are described in the README, "Data modelling hooks").
function on_table(t)
  pgch.live_view(t)
  if t.source == "public.products" then
    pgch.set_type(t, "unit_price", "Nullable(Float64)")   -- wider than real
  end
end
