-- 0008_random_fencing_tokens: a new attempt's fencing token is random,
-- not the next value of a sequence.
--
-- Workers share one token, so any client that knows it may connect under
-- a worker name of its own; a token from a sequence is a small number
-- next to the attempt id, and such a client could sweep (attempt, token)
-- pairs. Reports are also checked against the attempt's worker
-- (lib/db/sql/engine_report.sql), so the token is a second lock, not the
-- only one. Nothing compares tokens by size, only for equality, so the
-- old promise that a newer attempt carries a larger token breaks no reader.
--
-- The token is 63 random bits (a positive bigint: the protocol carries it
-- as an integer from 1 to 2^63-1) from gen_random_uuid(), which is in core
-- PostgreSQL from 13 on and reads the server's cryptographic random source
-- (pg_strong_random). A version 4 UUID has 6 fixed bits: 4 in its 7th byte
-- (the version) and 2 in its 9th (the variant). The first 8 bytes of one
-- UUID XOR the last 8 bytes of another have their fixed bits at different
-- places, so every one of the 64 bits is random; the sign bit is dropped,
-- and 0 (odds 2^-63) becomes 1.
--
-- A column default cannot hold a subquery, hence two calls rather than one
-- UUID cut in pieces.
--
-- Two attempts drawing the same token break attempts_fencing_token_key and
-- abort the claim's transaction; the scheduler's next tick claims again.
-- With a billion attempts kept, a claim collides with odds of about 10^-10:
-- rarer than the failures a claim already survives, so no retry loop.
-- Tokens already given out keep their value.
ALTER TABLE attempts ALTER COLUMN fencing_token SET DEFAULT GREATEST(
	(('x' || encode(substring(uuid_send(gen_random_uuid()) FROM 1 FOR 8), 'hex'))::bit(64)
	 # ('x' || encode(substring(uuid_send(gen_random_uuid()) FROM 9 FOR 8), 'hex'))::bit(64)
	)::bigint & 9223372036854775807, 1);

DROP SEQUENCE sl_fencing_token_seq;
