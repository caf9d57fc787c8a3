#!/usr/bin/env python3
# Attacks on a running candor server, from outside its process (see README.md
# in this folder). Usage: python3 optout.py CANDOR_BINARY [CANDOR_BINARY ...]
import subprocess, os, sys, time, tempfile, socket, http.client, statistics
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
def scan(folder, needles):
    hits = 0
    for root, _, files in os.walk(folder):
        for f in files:
            b = open(os.path.join(root, f), "rb").read()
            hits += sum(1 for n in needles if n in b)
    return hits
for binary in sys.argv[1:]:
    times, lefts = [], []
    for run in range(3):
        d = tempfile.mkdtemp(); port = free_port(); url = f"http://127.0.0.1:{port}"
        srv = subprocess.Popen([binary, "serve", "--dev", "--data", d + "/data", "--addr", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1); c.request("GET", "/healthz"); c.getresponse(); break
            except Exception: time.sleep(0.1)
        notes = d + "/notes"; os.makedirs(notes)
        for i in range(500):
            open(f"{notes}/n{i}.txt", "w").write(f"note {i} " + "lorem ipsum " * 40)
        ph = d + "/phone"
        dev = lambda *a, **k: subprocess.run([binary, "device", "--state", ph, *a], check=True, capture_output=True, **k)
        dev("init", "--server", url, "--imei", "356938035643809", "--phone", "+919812345678", "--country", "IN", "--notes", notes)
        dev("signup", "--email", "m@example.invalid", input=b"Orchid-Lantern-7731!\n")
        dev("consent", "notes", "on"); dev("sync")
        # the stored ciphertexts, as an attacker copying the folder would look for them
        import sqlite3
        db = sqlite3.connect(f"file:{d}/data/regions/in/candor.db?mode=ro", uri=True)
        cts = [r[0][:32] for r in db.execute("SELECT ciphertext FROM records WHERE category='notes' AND ciphertext IS NOT NULL")]
        db.close()
        t = time.time(); dev("consent", "notes", "off"); times.append((time.time() - t) * 1000)
        lefts.append(scan(d + "/data", cts))
        srv.kill(); srv.wait()
    print(f"{os.path.basename(binary)}: 500 notes; 'consent notes off' took {statistics.median(times):.0f} ms (median of 3, CLI process included); ciphertexts of notes left in the data folder right after the answer: {lefts} of {len(cts)}")
