/*
 * fake_scheduler: a scripted stand-in for sluice-scheduler's worker port,
 * for tests/cli/t0060-worker.sh. It listens on 127.0.0.1 (a free port, or
 * --port N), prints `port N`, then runs its script, one command per
 * argument, speaking the real protocol through lib/core/proto.c:
 *
 *   accept                      wait for a worker to connect (closes any earlier one)
 *   expect TYPE                 read frames until one of TYPE (HELLO, LOG, RESULT...)
 *   expect CLOSED               read frames until the worker closes the connection
 *   wait MS                     read frames for MS milliseconds
 *   welcome [HEARTBEAT_MS]      send WELCOME (default 1000 ms; the lease is 3 of them)
 *   reject REASON               send REJECT
 *   dispatch ID FENCE COMMAND   send DISPATCH (the rest of the argument is the command)
 *   dispatch-in ID FENCE REPO COMMIT CWD COMMAND
 *                               the same at COMMIT with the optional `repo` field (REPO
 *                               "-": not sent) and `cwd` ("." for the root)
 *   cancel ID FENCE | ack ID FENCE | nack ID FENCE | drain | heartbeat
 *   bad-dispatch ID FENCE       send a DISPATCH the worker must refuse (an env name
 *                               over 200 characters), well framed
 *   garbage                     send a frame of an unknown type
 *   oversize                    send the header of a frame far over the 1 MiB limit
 *   silence                     stop sending HEARTBEATs (sent every interval after WELCOME)
 *   close                       close the connection
 *
 * Every frame received is printed as one line (`RESULT attempt=a1 ...`), as
 * are `ACCEPTED` and `CLOSED`. A command that times out (10 s) or a bad
 * frame ends the program with status 1.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sluice/alloc.h"
#include "sluice/proto.h"
#include "sluice/strbuf.h"
#include "sluice/banned.h"

#define TIMEOUT_MS 10000

static int conn_fd = -1;
static struct sl_proto_decoder dec;
static long long heartbeat_ms; /* 0: send none (before WELCOME, or after `silence`) */
static long long next_heartbeat;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *msg)
{
	printf("FAIL %s\n", msg);
	fflush(stdout);
	exit(1);
}

static void join(const struct sl_proto_strlist *l)
{
	for (size_t i = 0; i < l->nr; i++)
		printf("%s%s", i ? "," : "", l->items[i]);
}

static void print_escaped(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			fputs("\\n", stdout);
		else if (c < ' ' || c >= 0x7f || c == '\\')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static void print_msg(const struct sl_proto_msg *m)
{
	printf("%s", sl_proto_type_name((int)m->type));
	switch (m->type) {
	case SL_PROTO_HELLO:
		printf(" worker_id=%s token=%s host=%s slots=%u version=%u-%u queues=",
		       m->u.hello.worker_id, m->u.hello.token, m->u.hello.host,
		       (unsigned)m->u.hello.slots, (unsigned)m->u.hello.version_min,
		       (unsigned)m->u.hello.version_max);
		join(&m->u.hello.queues);
		printf(" running=");
		join(&m->u.hello.running);
		break;
	case SL_PROTO_HEARTBEAT:
		printf(" running=");
		join(&m->u.heartbeat.running);
		printf(" dispatches=%llu", (unsigned long long)m->u.heartbeat.dispatches);
		break;
	case SL_PROTO_LOG:
		printf(" attempt=%s fence=%llu seq=%llu stream=%s data=", m->u.log.attempt_id,
		       (unsigned long long)m->u.log.fence, (unsigned long long)m->u.log.seq,
		       m->u.log.stream == SL_PROTO_STDERR ? "stderr" : "stdout");
		print_escaped(m->u.log.data, m->u.log.len);
		break;
	case SL_PROTO_RESULT:
		printf(" attempt=%s fence=%llu outcome=%s exit_code=%d signal=%d log_bytes=%llu",
		       m->u.result.attempt_id, (unsigned long long)m->u.result.fence,
		       sl_outcome_name(m->u.result.outcome), m->u.result.exit_code,
		       m->u.result.signal, (unsigned long long)m->u.result.log_bytes);
		for (size_t i = 0; i < m->u.result.outputs.nr; i++)
			printf(" out.%s=%s", m->u.result.outputs.items[i].key,
			       m->u.result.outputs.items[i].value);
		break;
	default:
		break;
	}
	putchar('\n');
	fflush(stdout);
}

static void send_msg(struct sl_proto_msg *m);

static void close_conn(void)
{
	if (conn_fd >= 0)
		close(conn_fd);
	conn_fd = -1;
	sl_proto_decoder_release(&dec);
	sl_proto_decoder_init(&dec, 0);
	heartbeat_ms = 0;
}

/*
 * Read frames until `want` (a type name, "CLOSED", or NULL: none) arrives
 * or `ms` pass. Returns 1 when found, 0 at the deadline.
 */
static int read_until(const char *want, long long ms)
{
	struct sl_proto_msg m = SL_PROTO_MSG_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT;
	long long deadline = now_ms() + ms;
	char buf[65536];
	int rc;

	if (conn_fd < 0)
		die("no connection");
	for (;;) {
		struct pollfd p = {conn_fd, POLLIN, 0};
		long long left = deadline - now_ms();
		ssize_t n;

		while ((rc = sl_proto_decoder_next(&dec, &m, &err)) == 1) {
			print_msg(&m);
			if (want && !strcmp(want, sl_proto_type_name((int)m.type))) {
				sl_proto_msg_release(&m);
				return 1;
			}
		}
		if (rc < 0) {
			printf("BADFRAME %s\n", err.buf);
			die("bad frame from the worker");
		}
		if (left <= 0)
			return 0;
		if (heartbeat_ms && now_ms() >= next_heartbeat) {
			struct sl_proto_msg hb;

			sl_proto_msg_init(&hb, SL_PROTO_HEARTBEAT);
			send_msg(&hb);
			next_heartbeat = now_ms() + heartbeat_ms;
		}
		if (heartbeat_ms && next_heartbeat - now_ms() < left)
			left = next_heartbeat - now_ms();
		if (poll(&p, 1, (int)(left > 0 ? left : 0)) <= 0)
			continue;
		n = read(conn_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			printf("CLOSED\n");
			fflush(stdout);
			close_conn();
			if (want && !strcmp(want, "CLOSED"))
				return 1;
			if (want)
				die("connection closed");
			return 0;
		}
		sl_proto_decoder_feed(&dec, buf, (size_t)n);
	}
}

static void send_msg(struct sl_proto_msg *m)
{
	struct sl_strbuf out = SL_STRBUF_INIT;
	size_t off = 0;

	if (conn_fd < 0)
		die("no connection");
	if (sl_proto_encode(m, &out))
		die("cannot encode");
	while (off < out.len) {
		ssize_t n = write(conn_fd, out.buf + off, out.len - off);

		if (n <= 0)
			die("write failed");
		off += (size_t)n;
	}
	sl_strbuf_release(&out);
	sl_proto_msg_release(m);
}

static void do_accept(int lfd)
{
	struct pollfd p = {lfd, POLLIN, 0};

	close_conn();
	if (poll(&p, 1, TIMEOUT_MS) <= 0)
		die("timeout waiting for a connection");
	conn_fd = accept(lfd, NULL, NULL);
	if (conn_fd < 0)
		die("accept failed");
	printf("ACCEPTED\n");
	fflush(stdout);
}

/* "ID FENCE rest": the id and fence; returns the rest (may be ""). */
static const char *ref_args(const char *args, struct sl_proto_ref *r)
{
	char id[256];
	unsigned long long fence;
	int used = 0;

	if (sscanf(args, "%255s %llu %n", id, &fence, &used) < 2)
		die("expected ID FENCE");
	r->attempt_id = sl_xstrdup(id);
	r->fence = fence;
	return args + used;
}

static void run(int lfd, const char *cmd)
{
	struct sl_proto_msg m;
	struct sl_proto_ref r = {0};
	const char *sp = strchr(cmd, ' ');
	const char *args = sp ? sp + 1 : "";
	size_t vlen = sp ? (size_t)(sp - cmd) : strlen(cmd);

#define IS(v) (vlen == strlen(v) && !strncmp(cmd, v, vlen))
	if (IS("accept")) {
		do_accept(lfd);
	} else if (IS("expect")) {
		if (!read_until(args, TIMEOUT_MS)) {
			printf("TIMEOUT waiting for %s\n", args);
			die("timeout");
		}
	} else if (IS("wait")) {
		if (conn_fd >= 0)
			read_until(NULL, atoll(args));
	} else if (IS("welcome")) {
		sl_proto_msg_init(&m, SL_PROTO_WELCOME);
		m.u.welcome.version = SL_PROTO_VERSION_MAX;
		m.u.welcome.heartbeat_ms = args[0] ? (uint32_t)atol(args) : 1000;
		m.u.welcome.lease_ms = 3 * m.u.welcome.heartbeat_ms;
		m.u.welcome.scheduler_id = sl_xstrdup("fake");
		heartbeat_ms = m.u.welcome.heartbeat_ms;
		next_heartbeat = now_ms() + heartbeat_ms;
		send_msg(&m);
	} else if (IS("reject")) {
		sl_proto_msg_init(&m, SL_PROTO_REJECT);
		m.u.reject.reason = sl_xstrdup(args);
		send_msg(&m);
	} else if (IS("dispatch") || IS("dispatch-in")) {
		const char *command = ref_args(args, &r);
		char repo[1024] = "-", commit[128] = "0123456789abcdef0123456789abcdef01234567";
		char cwd[256] = ".";
		int used = 0;

		if (IS("dispatch-in")) {
			if (sscanf(command, "%1023s %127s %255s %n", repo, commit, cwd, &used) < 3)
				die("expected ID FENCE REPO COMMIT CWD COMMAND");
			command += used;
		}

		sl_proto_msg_init(&m, SL_PROTO_DISPATCH);
		m.u.dispatch.attempt_id = r.attempt_id;
		m.u.dispatch.fence = r.fence;
		m.u.dispatch.dag = sl_xstrdup("d");
		m.u.dispatch.run_id = sl_xstrdup("r1");
		m.u.dispatch.task = sl_xstrdup("t");
		m.u.dispatch.try_number = 1;
		m.u.dispatch.command = sl_xstrdup(command);
		m.u.dispatch.cwd = sl_xstrdup(strcmp(cwd, ".") ? cwd : "");
		m.u.dispatch.commit = sl_xstrdup(commit);
		m.u.dispatch.repo = strcmp(repo, "-") ? sl_xstrdup(repo) : NULL;
		send_msg(&m);
	} else if (IS("cancel") || IS("ack") || IS("nack")) {
		sl_proto_msg_init(&m, IS("ack")      ? SL_PROTO_ACK
		                      : IS("cancel") ? SL_PROTO_CANCEL
		                                     : SL_PROTO_NACK);
		ref_args(args, &r);
		if (!IS("ack"))
			r.reason = sl_xstrdup("test");
		m.u.ack = r;
		send_msg(&m);
	} else if (IS("bad-dispatch")) {
		struct sl_strbuf json = SL_STRBUF_INIT, frame = SL_STRBUF_INIT;
		unsigned char hdr[5];

		ref_args(args, &r);
		sl_strbuf_addf(
		    &json,
		    "{\"attempt_id\":\"%s\",\"fencing_token\":%llu,\"dag\":\"d\","
		    "\"run_id\":\"r\",\"task\":\"t\",\"try_number\":1,\"command\":\"true\","
		    "\"env\":[[\"%0250d\",\"v\"]],\"cwd\":\"\",\"commit\":\"%040d\","
		    "\"timeout_s\":0,\"log_limit\":0,\"sensor\":false}",
		    r.attempt_id, (unsigned long long)r.fence, 0, 0);
		hdr[0] = (unsigned char)((json.len + 1) >> 24);
		hdr[1] = (unsigned char)((json.len + 1) >> 16);
		hdr[2] = (unsigned char)((json.len + 1) >> 8);
		hdr[3] = (unsigned char)(json.len + 1);
		hdr[4] = SL_PROTO_DISPATCH;
		sl_strbuf_add(&frame, hdr, 5);
		sl_strbuf_add(&frame, json.buf, json.len);
		if (conn_fd < 0 || write(conn_fd, frame.buf, frame.len) < 0)
			die("write failed");
		free(r.attempt_id);
		sl_strbuf_release(&json);
		sl_strbuf_release(&frame);
	} else if (IS("drain") || IS("heartbeat")) {
		sl_proto_msg_init(&m, IS("drain") ? SL_PROTO_DRAIN : SL_PROTO_HEARTBEAT);
		send_msg(&m);
	} else if (IS("garbage")) {
		static const char junk[] = "\0\0\0\5\143junk";

		if (conn_fd < 0 || write(conn_fd, junk, sizeof(junk) - 1) < 0)
			die("write failed");
	} else if (IS("oversize")) {
		static const char big[] = "\x7f\xff\xff\xff\x05";

		if (conn_fd < 0 || write(conn_fd, big, sizeof(big) - 1) < 0)
			die("write failed");
	} else if (IS("silence")) {
		heartbeat_ms = 0;
	} else if (IS("close")) {
		close_conn();
	} else {
		fprintf(stderr, "fake_scheduler: unknown command '%s'\n", cmd);
		exit(2);
	}
#undef IS
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr;
	socklen_t alen = sizeof(addr);
	int lfd, one = 1, first = 1;

	sl_proto_decoder_init(&dec, 0);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (argc > 2 && !strcmp(argv[1], "--port")) {
		addr.sin_port = htons((uint16_t)atoi(argv[2]));
		first = 3;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 8) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen)) {
		perror("fake_scheduler: listen");
		return 1;
	}
	printf("port %d\n", ntohs(addr.sin_port));
	fflush(stdout);
	for (int i = first; i < argc; i++)
		run(lfd, argv[i]);
	close_conn();
	sl_proto_decoder_release(&dec);
	close(lfd);
	return 0;
}
