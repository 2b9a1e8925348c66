-- Live updates (docs/web.md, "Live updates"): the triggers of migration
-- 0013 notify channel sluice_events; sluice-web listens on a connection of
-- its own.

-- name: events_listen
-- Receive sluice_events on this session; a reconnect is a new session,
-- which must LISTEN again.
LISTEN sluice_events
