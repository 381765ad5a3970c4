-- The anomaly checks' alerts as the live demo's refresh loop saw them: after each successful build
-- it copies the open alerts of monitoring.alerts here (shop/refresh.py). The model is rebuilt every
-- build and judges a bounded window; this table keeps when each alert was first and last seen, so
-- an alert outlives the window it was judged in. Operational metadata, like refresh_runs.
create table shop_meta.alerts (
    alert_id      text primary key,  -- monitoring.alerts.alert_id: kind, metric and window start
    kind          text not null,
    metric        text not null,
    window_start  timestamptz not null,
    window_end    timestamptz not null,
    score         numeric(12, 2) not null,
    evidence      text not null,
    first_seen_at timestamptz not null,
    last_seen_at  timestamptz not null
);

create index alerts_last_seen_at_idx on shop_meta.alerts (last_seen_at);
