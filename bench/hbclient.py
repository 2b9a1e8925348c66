#!/usr/bin/env python3
# bench/hbclient.py PORT TOKEN_FILE N: N fake workers on one asyncio loop,
# each a distinct worker (hb-0001 ...) of one slot on the queue hbq, which
# nothing uses: HELLO, then a HEARTBEAT every heartbeat_ms the WELCOME
# gives; whatever the scheduler sends is read and dropped. Prints READY
# once every connection has its answer, CLOSED for each connection the
# scheduler ends, and on SIGUSR1 COUNT with its totals and the longest
# silence of the scheduler on any one connection since the last COUNT (ms).
# Used by bench/heartbeats (an idle fleet) and bench/scale (100 worker
# connections while 10,000 task instances are live). Standard library only.
import asyncio, json, signal, struct, sys, time

port, token_file, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
token = open(token_file).read().rstrip("\r\n")
st = {"sent": 0, "recv": 0, "open": 0, "closed": 0, "failed": 0, "dispatch": 0, "gap": 0.0}
welcome = {}
seq = 0


def say(*a):
    print(*a, flush=True)


def frame(t, o):
    b = json.dumps(o, separators=(",", ":")).encode()
    return struct.pack(">IB", len(b) + 1, t) + b


async def read_frame(r):
    n, t = struct.unpack(">IB", await r.readexactly(5))
    return t, await r.readexactly(n - 1)


async def worker(i, sem, handshaken):
    wid = "hb-%04d" % i
    async with sem:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 60)
            w.write(frame(1, {"version_min": 2, "version_max": 2, "token": token,
                              "worker_id": wid, "host": "hbbench", "slots": 1,
                              "queues": ["hbq"], "running": []}))
            t, b = await asyncio.wait_for(read_frame(r), 120)
        except Exception as e:
            st["failed"] += 1
            say("FAILED", wid, repr(e))
            handshaken()
            return
    if t != 2:
        st["failed"] += 1
        say("REFUSED", wid, t, b[:200].decode(errors="replace"))
        w.close()
        handshaken()
        return
    o = json.loads(b)
    welcome.setdefault("heartbeat_ms", o["heartbeat_ms"])
    welcome.setdefault("lease_ms", o["lease_ms"])
    st["open"] += 1
    handshaken()

    loop = asyncio.get_running_loop()

    async def reader():
        last = loop.time()
        try:
            while True:
                t, _ = await read_frame(r)
                now = loop.time()
                st["recv"] += 1
                st["gap"] = max(st["gap"], now - last)  # the scheduler's silence
                last = now
                if t == 5:
                    st["dispatch"] += 1
        except Exception as e:
            return e

    rt = asyncio.create_task(reader())
    every = o["heartbeat_ms"] / 1000
    due = loop.time() + every
    while True:
        done, _ = await asyncio.wait({rt}, timeout=max(0, due - loop.time()))
        if done:
            break
        w.write(frame(4, {"running": [], "dispatches": 0}))
        st["sent"] += 1
        due += every
        if due < loop.time():  # late (a starved client): no burst to catch up
            due = loop.time() + every
    st["open"] -= 1
    st["closed"] += 1
    say("CLOSED", wid, "%.3f" % time.time(), repr(rt.result()))
    w.close()


async def main():
    global seq
    loop = asyncio.get_running_loop()

    def count():
        global seq
        seq += 1
        say("COUNT", seq, st["sent"], st["recv"], st["open"], st["closed"], st["dispatch"],
            round(st["gap"] * 1000))
        st["gap"] = 0.0

    loop.add_signal_handler(signal.SIGUSR1, count)
    left = [n]
    everyone = loop.create_future()

    def handshaken():
        left[0] -= 1
        if not left[0]:
            everyone.set_result(None)

    sem = asyncio.Semaphore(32)
    tasks = [asyncio.create_task(worker(i, sem, handshaken)) for i in range(1, n + 1)]
    await everyone
    say("READY", st["open"], st["failed"], welcome.get("heartbeat_ms", 0), welcome.get("lease_ms", 0))
    await asyncio.gather(*tasks)
    say("ALLCLOSED")
    await asyncio.Event().wait()


asyncio.run(main())
