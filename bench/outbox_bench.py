#!/usr/bin/env python3
"""Outbound benchmark (issue 4): one lesson to N robot groups through a real yuerd and a real
wecom-sandbox on 127.0.0.1, with injected latency and a fraction of transient errors (-1).

Measures the time from the push (one admin API call, one transaction) until yuerd has no open outbox
row, and checks on the sandbox's recordings that every group got the lesson exactly once.
Usage: bench/outbox_bench.py --build build/release [--groups 10000] [--latency-ms 50] [--error-rate 0.01]
                             [--in-flight 256]
"""
import argparse, json, os, secrets, subprocess, sys, tempfile, time, urllib.request


def http(method, url, body=None, token=None, timeout=120):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def start(argv, log, needle):
    proc = subprocess.Popen(argv, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        text = open(log).read()
        at = text.find(needle)
        if at >= 0:
            line = text[at:].split("\n")[0]
            return proc, line[len(needle):].split()[0]
        if proc.poll() is not None:
            sys.exit(f"{argv[0]} exited: {text}")
        time.sleep(0.05)
    sys.exit(f"{argv[0]} did not start: see {log}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--groups", type=int, default=10000)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--error-rate", type=float, default=0.01)
    ap.add_argument("--in-flight", type=int, default=256)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="yuer-outbox-bench-")
    groups = [{"chat_id": f"wrB{i:05d}", "name": f"群{i}", "owner": "Coord1", "members": ["Coord1", "Coord2"],
               "robots": [{"key": secrets.token_hex(18), "name": "推送"}]} for i in range(a.groups)]
    fixture = {"corp": {"corp_id": "wwbench0000001", "name": "bench"},
               "apps": [{"agent_id": 1000002, "name": "app", "secret": secrets.token_hex(16), "token": "Tok123",
                         "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "callback_url": ""}],
               "members": [{"userid": "Coord1", "name": "甲"}, {"userid": "Coord2", "name": "乙"}],
               "internal_groups": groups}
    with open(f"{tmp}/fixture.json", "w") as f:
        json.dump(fixture, f)
    sandbox, sb = start([f"{a.build}/tests/sandbox/wecom-sandbox", "--listen", "127.0.0.1:0", "--fixture",
                         f"{tmp}/fixture.json"], f"{tmp}/sandbox.log", "listening on ")
    yuerd = None
    try:
        robots = http("GET", sb + "/_sandbox/fixture")["robots"]
        os.makedirs(f"{tmp}/secrets", mode=0o700)
        for name, text in (("robot_keys", "".join(f"{r['chat_id']} {r['key']}\n" for r in robots)),
                           ("admin_token", secrets.token_hex(20) + "\n")):
            fd = os.open(f"{tmp}/secrets/{name}", os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, text.encode())
            os.close(fd)
        token = open(f"{tmp}/secrets/admin_token").read().strip()
        if a.error_rate > 0:
            http("POST", sb + "/_sandbox/faults", {"path": "/cgi-bin/webhook/send", "errcode": -1,
                                                   "latency_ms": a.latency_ms, "rate": a.error_rate, "count": 0})
        http("POST", sb + "/_sandbox/faults", {"path": "/cgi-bin/webhook/send", "latency_ms": a.latency_ms, "count": 0})
        with open(f"{tmp}/yuerd.toml", "w") as f:
            f.write(f"""[server]
listen = "127.0.0.1:0"
[store]
path = "yuer.db"
[wecom]
api_base = "{sb}"
corp_id = "wwbench0000001"
[wecom.robots]
keys_file = "secrets/robot_keys"
[outbox]
max_in_flight = {a.in_flight}
backoff_base_ms = 1000
[time]
zone = "Asia/Shanghai"
[admin]
token_file = "secrets/admin_token"
[log]
level = "info"
""")
        yuerd, base = start([f"{a.build}/daemon/yuerd/yuerd", "--config", f"{tmp}/yuerd.toml"], f"{tmp}/yuerd.log",
                            "yuerd listening on ")
        lesson = "【科学喂养】6 个月内纯母乳喂养，按需哺乳；6 个月起及时添加富含铁的辅食，继续母乳喂养到 2 岁或以上。"
        t0 = time.monotonic()
        r = http("POST", base + "/api/v1/push", {"targets": [g["chat_id"] for g in groups], "content": lesson,
                                                 "key": "lesson-bench"}, token)
        t_enqueued = time.monotonic() - t0
        # The in-memory gauge, not the store query: polling must not load the store thread.
        while True:
            with urllib.request.urlopen(base + "/metrics", timeout=60) as m:
                text = m.read().decode()
            depth = [l for l in text.splitlines() if l.startswith('yuer_outbox_queue_depth{route="robot"}')]
            if os.environ.get("BENCH_TRACE"): print(round(time.monotonic() - t0, 2), depth, file=sys.stderr)
            if depth and float(depth[0].split()[-1]) == 0:
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        msgs = http("GET", sb + "/_sandbox/messages")["messages"]
        per_chat = {}
        for m in msgs:
            per_chat[m["chat_id"]] = per_chat.get(m["chat_id"], 0) + 1
        reqs = http("GET", sb + "/_sandbox/requests?path=/cgi-bin/webhook/send")["requests"]
        faults = sum(1 for q in reqs if q["errcode"] not in (0,))
        waves = -(-a.groups // a.in_flight)
        floor = waves * a.latency_ms / 1000.0
        print(json.dumps({"groups": a.groups, "rows": r["rows"], "enqueue_s": round(t_enqueued, 3),
                          "delivered_all_s": round(elapsed, 3), "groups_reached": len(per_chat),
                          "duplicates": sum(per_chat.values()) - len(per_chat), "requests": len(reqs),
                          "transient_errors": faults, "rate_limited_45009": sum(1 for q in reqs if q["errcode"] == 45009),
                          "in_flight": a.in_flight, "latency_ms": a.latency_ms, "error_rate": a.error_rate,
                          "latency_floor_s": floor}, ensure_ascii=False))
    finally:
        for p in (yuerd, sandbox):
            if p:
                p.terminate()
                p.wait(timeout=20)


if __name__ == "__main__":
    main()
