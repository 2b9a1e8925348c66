-- `sluice standalone`, on the server's maintenance database: create the
-- database `sluice` when it is missing.

-- name: standalone_has_database
SELECT 1 FROM pg_database WHERE datname = 'sluice'

-- name: standalone_create_database
-- Prepared and run alone (not inside a transaction block), as CREATE
-- DATABASE requires.
CREATE DATABASE sluice
