#!/usr/bin/env python3
# Attacks on a running candor server, from outside its process (see README.md
# in this folder). Usage: python3 memory.py CANDOR_BINARY [CANDOR_BINARY ...]
import subprocess, os, sys, time, json, socket, threading, tempfile, http.client, random

def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def run(binary, scenario):
    d = tempfile.mkdtemp()
    port = free_port()
    srv = subprocess.Popen([binary, "serve", "--dev", "--data", d + "/data", "--addr", f"127.0.0.1:{port}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1); c.request("GET", "/healthz"); c.getresponse(); break
            except Exception: time.sleep(0.1)
        base = rss_kb(srv.pid)
        peak = [base]
        stop = threading.Event()
        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kb(srv.pid)); time.sleep(0.02)
        threading.Thread(target=sample, daemon=True).start()
        statuses = scenario(binary, port, d)
        time.sleep(1.0)
        stop.set()
        return base, peak[0], statuses
    finally:
        srv.kill(); srv.wait()

def logins(binary, port, d):
    res = []
    def one(i):
        body = json.dumps({"handle": __import__("base64").b64encode(os.urandom(64)).decode(),
                           "auth_key": __import__("base64").b64encode(os.urandom(32)).decode(),
                           "device": {"pseudonym": __import__("base64").b64encode(os.urandom(32)).decode()}})
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(f"127.0.{i//200+1}.{i%200+2}", 0))
        c.request("POST", "/v1/sessions", body, {"Content-Type": "application/json"})
        res.append(c.getresponse().status)
    ts = [threading.Thread(target=one, args=(i,)) for i in range(60)]
    [t.start() for t in ts]; [t.join() for t in ts]
    return sorted(res)

def parts(binary, port, d):
    phone = d + "/phone"
    url = f"http://127.0.0.1:{port}"
    subprocess.run([binary, "device", "--state", phone, "init", "--server", url, "--imei", "356938035643809", "--phone", "+919812345678", "--country", "IN"], check=True, capture_output=True)
    subprocess.run([binary, "device", "--state", phone, "signup", "--email", "m@example.invalid"], input=b"Orchid-Lantern-7731!\n", check=True, capture_output=True)
    subprocess.run([binary, "device", "--state", phone, "consent", "photos", "on"], check=True, capture_output=True)
    tok = json.load(open(phone + "/session.json"))["token"]
    H = {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
    PART = 4 << 20
    ups = []
    for _ in range(2):
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("POST", "/v1/photos/uploads", json.dumps({"size": 30 * PART, "hash": __import__("base64").b64encode(os.urandom(32)).decode()}), H)
        ups.append(json.loads(c.getresponse().read())["id"])
    socks, statuses = [], []
    for n in range(60):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall((f"PUT /v1/photos/uploads/{ups[n//30]}/parts/{n%30} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n"
                   f"Content-Type: application/octet-stream\r\nContent-Length: {PART}\r\n\r\n").encode())
        try:
            s.sendall(b"\0" * (PART - 1))  # one byte short
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed before the body was all sent
        socks.append(s)
    time.sleep(2)
    for s in socks:
        s.settimeout(0.2)
        try:
            try:
                line = s.recv(100).split(b"\r\n")[0].decode()
            except ConnectionResetError:
                line = "x reset"
            statuses.append(line.split(" ")[1] if line else "held")
        except socket.timeout:
            statuses.append("held")
    for s in socks: s.close()
    return sorted(statuses)

for name, sc in [("60 concurrent logins, unknown handles, 60 addresses", logins), ("60 part uploads one byte short, one account", parts)]:
    for b in sys.argv[1:]:
        base, peak, st = run(b, sc)
        from collections import Counter
        print(f"{name} | {os.path.basename(b)} | RSS at start {base//1024} MiB, peak {peak//1024} MiB (+{(peak-base)//1024} MiB) | answers {dict(Counter(st))}")
