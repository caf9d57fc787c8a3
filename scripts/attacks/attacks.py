#!/usr/bin/env python3
# Attacks on a running candor server, from outside its process (see README.md
# in this folder). Usage: python3 attacks.py CANDOR_BINARY [CANDOR_BINARY ...]
import subprocess, os, sys, time, tempfile, socket, http.client, json, base64
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
def start(binary):
    d = tempfile.mkdtemp(); port = free_port()
    srv = subprocess.Popen([binary, "serve", "--dev", "--data", d + "/data", "--addr", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1); c.request("GET", "/healthz"); c.getresponse(); break
        except Exception: time.sleep(0.1)
    return srv, port, d
def phone(binary, port, d):
    ph = d + "/phone"; url = f"http://127.0.0.1:{port}"
    dev = lambda *a, **k: subprocess.run([binary, "device", "--state", ph, *a], check=True, capture_output=True, **k)
    dev("init", "--server", url, "--imei", "356938035643809", "--phone", "+919812345678", "--country", "IN")
    dev("signup", "--email", "m@example.invalid", input=b"Orchid-Lantern-7731!\n")
    return json.load(open(ph + "/session.json"))["token"]
for binary in sys.argv[1:]:
    srv, port, d = start(binary)
    try:
        tok = phone(binary, port, d)
        # 1. an inclusion proof for a size near 2^63, anonymously
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        t = time.time()
        try:
            c.request("GET", "/v1/audit/in/inclusion?index=0&size=9223372036854775807"); r = c.getresponse()
            proof = f"{r.status} in {(time.time()-t)*1000:.0f} ms"
        except socket.timeout:
            proof = "no answer in 5 s"
        c.close()
        time.sleep(0.5)
        cpu = open(f"/proc/{srv.pid}/stat").read().split()
        t1 = int(cpu[13]) + int(cpu[14]); time.sleep(2)
        cpu = open(f"/proc/{srv.pid}/stat").read().split()
        busy = (int(cpu[13]) + int(cpu[14]) - t1) / os.sysconf("SC_CLK_TCK") / 2
        # 2. a message socket, then logout
        s = socket.create_connection(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(f"GET /v1/messages/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {tok}\r\n\r\n".encode())
        head = s.recv(4096).split(b"\r\n")[0].decode()
        c = http.client.HTTPConnection("127.0.0.1", port); c.request("DELETE", "/v1/sessions/current", headers={"Authorization": "Bearer " + tok}); c.getresponse().read()
        s.settimeout(0.5); closed = None; t = time.time()
        while time.time() - t < 12:
            try:
                b = s.recv(4096)
                if not b or any(b[i] & 0x0f == 8 for i in range(1)) and b[0] & 0x0f == 8:
                    closed = time.time() - t; break
            except socket.timeout:
                pass
        sock = f"upgrade {head.split(' ')[1]}; after logout: " + (f"closed by the server in {closed:.1f} s" if closed is not None else "still open after 12 s")
        print(f"{os.path.basename(binary)}: proof for size 2^63-1: {proof}, then the server used {busy*100:.0f}% of a core; socket: {sock}")
    finally:
        srv.kill(); srv.wait()
