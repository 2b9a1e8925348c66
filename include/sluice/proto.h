#ifndef SLUICE_PROTO_H
#define SLUICE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/outcome.h"
#include "sluice/strbuf.h"

/**
 * The scheduler <-> worker job protocol codec (docs/protocol.md).
 *
 * Pure encode/decode: no I/O and no event loop. The daemons read bytes from
 * their libuv streams, feed them to an sl_proto_decoder and pull whole,
 * validated messages out of it; they write what sl_proto_encode appends.
 *
 * Frame: `u32 big-endian length | u8 type | payload`, where length counts the
 * type byte and the payload. The payload is one JSON object, except for LOG:
 * `u32 big-endian header length | JSON header object | raw log bytes`, so log
 * data travels unescaped.
 */

/** The protocol versions this build speaks. */
#define SL_PROTO_VERSION_MIN 2
#define SL_PROTO_VERSION_MAX 2
/** Default and smallest allowed maximum frame length (type + payload). */
#define SL_PROTO_MAX_FRAME     (1024 * 1024)
#define SL_PROTO_MIN_MAX_FRAME 1024
/** Ids (worker, attempt, dag, task, output keys): [A-Za-z0-9_.-]{1,200}. */
#define SL_PROTO_ID_MAX 200
/** Run ids, as the database allows them (docs/runs.md): [A-Za-z0-9_.:+~-]{1,250}. */
#define SL_PROTO_RUN_ID_MAX 250
/** Longest token, reason, command, cwd or value (bytes). */
#define SL_PROTO_TEXT_MAX (256 * 1024)
/** Most items in one list (queues, running attempts, env, outputs). */
#define SL_PROTO_LIST_MAX 4096

enum sl_proto_type {
	SL_PROTO_HELLO = 1,     /* worker -> scheduler, first frame */
	SL_PROTO_WELCOME = 2,   /* scheduler -> worker, handshake accepted */
	SL_PROTO_REJECT = 3,    /* scheduler -> worker, handshake refused; then close */
	SL_PROTO_HEARTBEAT = 4, /* both ways */
	SL_PROTO_DISPATCH = 5,  /* scheduler -> worker: run this attempt */
	SL_PROTO_LOG = 6,       /* worker -> scheduler: a chunk of output */
	SL_PROTO_RESULT = 7,    /* worker -> scheduler: an attempt finished */
	SL_PROTO_ACK = 8,       /* scheduler -> worker: result committed */
	SL_PROTO_CANCEL = 9,    /* scheduler -> worker: stop this attempt */
	SL_PROTO_DRAIN = 10,    /* scheduler -> worker: take no more work */
	SL_PROTO_NACK = 11,     /* scheduler -> worker: a result refused for good */
};

/** "HELLO", "DISPATCH", ...; "unknown" for anything else. */
const char *sl_proto_type_name(int type);

enum sl_proto_stream {
	SL_PROTO_STDOUT = 1,
	SL_PROTO_STDERR = 2,
};

/** A list of owned strings. */
struct sl_proto_strlist {
	char **items;
	size_t nr, alloc;
};

/** An ordered list of owned key/value strings (env, outputs). */
struct sl_proto_kv {
	char *key;
	char *value;
};
struct sl_proto_kvlist {
	struct sl_proto_kv *items;
	size_t nr, alloc;
};

/** Append copies of the strings. */
void sl_proto_strlist_push(struct sl_proto_strlist *l, const char *s);
void sl_proto_kvlist_push(struct sl_proto_kvlist *l, const char *key, const char *value);

struct sl_proto_hello {
	uint32_t version_min, version_max;
	char *token;
	char *worker_id;
	char *host;
	uint32_t slots;
	struct sl_proto_strlist queues;
	struct sl_proto_strlist running; /* attempt ids the worker still holds */
};

struct sl_proto_welcome {
	uint32_t version;
	uint32_t heartbeat_ms; /* how often each side sends a frame at least */
	/*
	 * A worker that hears nothing from any scheduler for this long kills
	 * its running attempts (docs/reliability.md); more than heartbeat_ms.
	 */
	uint32_t lease_ms;
	char *scheduler_id;
};

struct sl_proto_reject {
	char *reason;
};

struct sl_proto_heartbeat {
	/* The worker's attempts, running or with a result not yet acknowledged;
	 * empty from the scheduler. */
	struct sl_proto_strlist running;
	/* DISPATCH frames the worker has read on this connection before this
	 * HEARTBEAT: what the scheduler sent later may be missing from `running`. */
	uint64_t dispatches;
};

struct sl_proto_dispatch {
	char *attempt_id;
	uint64_t fence;
	char *dag;
	char *run_id;
	char *task;
	uint32_t try_number;
	char *command;
	struct sl_proto_kvlist env;
	char *cwd; /* relative to the checkout; "" is its root */
	char *commit;
	char *repo;         /* optional: where to fetch `commit` from; NULL: not sent */
	uint32_t timeout_s; /* 0: none */
	uint64_t log_limit; /* bytes; 0: none */
	bool sensor;
};

struct sl_proto_log {
	char *attempt_id;
	uint64_t fence;
	uint64_t seq;
	enum sl_proto_stream stream;
	char *data; /* raw bytes, NUL-terminated for convenience */
	size_t len;
};

struct sl_proto_result {
	char *attempt_id;
	uint64_t fence;
	enum sl_outcome outcome;
	int exit_code;      /* 0..255, or -1 when the process did not exit */
	int signal;         /* 1..127, or 0 */
	int64_t started_ms; /* Unix time in milliseconds */
	int64_t ended_ms;
	struct sl_proto_kvlist outputs;
	uint64_t log_bytes;
	bool truncated;
};

/** ACK, CANCEL and NACK (reason is NULL in an ACK). */
struct sl_proto_ref {
	char *attempt_id;
	uint64_t fence;
	char *reason;
};

/**
 * One message. Every string and list is owned by the message and freed by
 * sl_proto_msg_release, so fill it with sl_xstrdup'ed strings. A message
 * initialised with SL_PROTO_MSG_INIT or sl_proto_msg_init can always be
 * released, also when half built.
 */
struct sl_proto_msg {
	enum sl_proto_type type;
	union {
		struct sl_proto_hello hello;
		struct sl_proto_welcome welcome;
		struct sl_proto_reject reject;
		struct sl_proto_heartbeat heartbeat;
		struct sl_proto_dispatch dispatch;
		struct sl_proto_log log;
		struct sl_proto_result result;
		struct sl_proto_ref ack;
		struct sl_proto_ref cancel;
		struct sl_proto_ref nack;
	} u;
};

#define SL_PROTO_MSG_INIT \
	{                 \
		0         \
	}

/** Zero the message and set its type. */
void sl_proto_msg_init(struct sl_proto_msg *msg, enum sl_proto_type type);
/** Free what it holds; it is left zeroed, as after sl_proto_msg_init(msg, 0). */
void sl_proto_msg_release(struct sl_proto_msg *msg);

/**
 * Append one frame holding `msg` to `out`. The encoder trusts the message
 * (the peer's decoder validates it); returns SL_EINVAL for what cannot be
 * encoded at all (an unknown type, a NULL required string, text that is not
 * UTF-8), SL_ETOOBIG past the 32-bit length. `out` is unchanged on failure.
 */
int sl_proto_encode(const struct sl_proto_msg *msg, struct sl_strbuf *out);

/**
 * An incremental decoder for one connection.
 *
 * Feed it what the stream delivers, then call sl_proto_decoder_next until it
 * returns 0 before feeding more: it then never holds more than one maximum
 * frame plus one read. The length prefix is checked as soon as its 4 bytes
 * arrive, so an oversized frame is refused before it is buffered. After any
 * error the decoder stays failed and drops what it holds: the connection must
 * be closed.
 */
struct sl_proto_decoder {
	struct sl_strbuf buf;
	size_t pos; /* start of the unconsumed bytes in buf */
	size_t max_frame;
	int failed; /* 0, or the error code every later call returns */
	struct sl_strbuf error;
	struct sl_proto_refusal *refused; /* the last SL_PROTO_REFUSED, else NULL */
};

/**
 * A frame that was whole and well formed (a known type, a JSON object) but
 * whose fields break the protocol's rules: it is skipped, and the
 * connection can go on. What could be read of it is kept so that the
 * receiver can answer for that attempt (fail it, refuse it by NACK).
 */
struct sl_proto_refusal {
	enum sl_proto_type type;
	char *attempt_id; /* NULL when absent or itself invalid */
	uint64_t fence;   /* 0 when absent or invalid */
};

/** sl_proto_decoder_next's answer for a refused frame (see above). */
#define SL_PROTO_REFUSED 2

/** `max_frame` 0 means SL_PROTO_MAX_FRAME; smaller than SL_PROTO_MIN_MAX_FRAME is raised. */
void sl_proto_decoder_init(struct sl_proto_decoder *dec, size_t max_frame);
void sl_proto_decoder_release(struct sl_proto_decoder *dec);

/**
 * Change the limit, with the same rules as sl_proto_decoder_init. It holds
 * from the next frame whose length is checked, which includes a frame
 * already partly buffered: its length is checked again by
 * sl_proto_decoder_next, so lowering the limit under it fails the decoder.
 * A receiver uses it to accept only small frames until its peer has
 * authenticated (docs/protocol.md, "Before HELLO").
 */
void sl_proto_decoder_set_max_frame(struct sl_proto_decoder *dec, size_t max_frame);

/**
 * Buffer `len` bytes. Returns 0, or a negative code once the decoder has
 * failed (SL_ETOOBIG for an oversized frame or a caller that does not drain,
 * SL_EINVAL for a malformed frame); the reason comes from the next
 * sl_proto_decoder_next.
 */
int sl_proto_decoder_feed(struct sl_proto_decoder *dec, const void *bytes, size_t len);

/**
 * Take the next whole message: returns 1 and fills `msg` (which the caller
 * releases), 0 when more bytes are needed, SL_PROTO_REFUSED when the next
 * frame was well framed but broke a field rule (one sentence in `err`
 * naming the message type and field; the frame is consumed, the decoder
 * goes on, and sl_proto_decoder_refusal tells what could be read of it),
 * or a negative code with one sentence in `err` when the stream itself is
 * broken (the decoder stays failed). `msg` must be initialised
 * (SL_PROTO_MSG_INIT); this call releases it first, so one message may be
 * reused in a loop, and it is left empty unless 1 is returned.
 */
int sl_proto_decoder_next(struct sl_proto_decoder *dec, struct sl_proto_msg *msg,
                          struct sl_strbuf *err);

/** After SL_PROTO_REFUSED: the refused frame, valid until the next call. */
const struct sl_proto_refusal *sl_proto_decoder_refusal(const struct sl_proto_decoder *dec);

/**
 * Encode `msg` and check the frame with the decoder's own rules, as the
 * peer will: 0 and the frame appended to `out`, or SL_EINVAL / SL_ETOOBIG
 * with the reason in `err` and `out` unchanged. For what a sender builds
 * from data it does not control (a DISPATCH from a DAG, a RESULT from a
 * task's outputs), so that a frame the peer would refuse is never sent.
 */
int sl_proto_encode_checked(const struct sl_proto_msg *msg, struct sl_strbuf *out,
                            struct sl_strbuf *err);

/**
 * Compare a presented token `a` with the expected one `b` in time that depends
 * only on `alen` (never on the content of either, nor on where they differ).
 * An empty expected token matches nothing.
 */
bool sl_proto_token_equal(const void *a, size_t alen, const void *b, size_t blen);

/**
 * The version to speak with a peer that offers [min, max]: the highest both
 * sides know, or -1 when the ranges do not overlap.
 */
int sl_proto_version_choose(uint32_t min, uint32_t max);

#endif
