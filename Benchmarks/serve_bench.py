#!/usr/bin/env python3
"""bench-serve: N small PNGs restored through `irzoo serve`'s API by C concurrent clients, and by
`irzoo run` on the same files, interleaved over a few rounds (this machine is shared: say the
load). Prints throughput, p50/p99 of the API's submit-to-downloaded latency, the server's RSS
after each quarter (flat or not) and its peak (VmHWM), and the ratio to the CLI."""
import argparse, http.client, json, os, re, shutil, signal, struct, subprocess, sys, tempfile, threading, time, uuid, zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tools"))
from stdlib_png import write_png  # noqa: E402


def proc_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def multipart(fields, files):
    boundary = "bench" + uuid.uuid4().hex
    out = bytearray()
    for k, v in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    for k, (name, data) in files.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\nContent-Type: image/png\r\n\r\n'.encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def one_job(port, path):
    """Submit, follow the job's event stream to its end, download the result; seconds."""
    start = time.perf_counter()
    body, ctype = multipart({"model": "tiny"}, {"image": (os.path.basename(path), open(path, "rb").read())})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("POST", "/api/jobs", body=body, headers={"Content-Type": ctype})
    r = c.getresponse()
    job = json.loads(r.read())
    if r.status != 202:
        raise RuntimeError(f"submit: {r.status} {job}")
    c.request("GET", f"/api/jobs/{job['id']}/events")
    r = c.getresponse()
    state = None
    for line in r:
        if line.startswith(b"data: "):
            state = json.loads(line[6:])["state"]
    if state != "done":
        raise RuntimeError(f"job {job['id']} ended {state}")
    c.close()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("GET", f"/api/jobs/{job['id']}/result")
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 200 or not data.startswith(b"\x89PNG"):
        raise RuntimeError(f"result: {r.status}")
    return time.perf_counter() - start, data


def through_api(port, images, clients, pid):
    latencies, results, errors, rss = [], {}, [], []
    lock = threading.Lock()
    todo = list(enumerate(images))

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                i, path = todo.pop(0)
            try:
                t, data = one_job(port, path)
                with lock:
                    latencies.append(t)
                    results[path] = data
                    if len(results) % max(1, len(images) // 4) == 0:
                        rss.append(proc_kib(pid, "VmRSS"))
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(str(e))

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, sorted(latencies), results, errors, rss


def through_cli(irzoo, env, folder, outdir):
    """`irzoo run` on the folder: one process, the model loaded once (the batch form)."""
    start = time.perf_counter()
    subprocess.run([irzoo, "run", "tiny", "--input", folder, "--output", outdir + "/"], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def big_png(path, width, height):
    """A large RGB PNG fast with the standard library: one random row, shifted per row."""
    row = os.urandom(width * 3)
    raw = bytearray()
    for y in range(height):
        k = (y * 3 * 7) % len(row)
        raw += b"\x00" + row[k:] + row[:k]

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(bytes(raw), 1)) + chunk(b"IEND", b""))


def responsiveness(port, pid, work, megapixels):
    """One large image restoring while GET /api/info is timed every 0.2 s: the API must stay responsive."""
    width = int((megapixels * 1e6 * 1.5) ** 0.5)
    height = int(megapixels * 1e6 / width)
    path = os.path.join(work, "big.png")
    big_png(path, width, height)
    before = proc_kib(pid, "VmHWM")
    done = {}

    def job():
        done["seconds"], _ = one_job(port, path)

    t = threading.Thread(target=job)
    t.start()
    pings = []
    while t.is_alive():
        start = time.perf_counter()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", "/api/info")
        c.getresponse().read()
        c.close()
        pings.append(time.perf_counter() - start)
        time.sleep(0.2)
    t.join()
    pings.sort()
    print(f"{width}x{height} ({width * height / 1e6:.1f} MP) through the API: {done.get('seconds', float('nan')):.1f} s; "
          f"GET /api/info meanwhile: {len(pings)} requests, p50 {pct(pings, 50) * 1000:.1f} ms, max {pings[-1] * 1000:.1f} ms; "
          f"server peak RSS {before / 1024:.0f} -> {proc_kib(pid, 'VmHWM') / 1024:.0f} MiB")


def pct(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--irzoo", required=True)
    ap.add_argument("--fixtures", default="Tests/Fixtures")
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--big", type=float, default=24, help="megapixels of the responsiveness probe (0: none)")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="irzoo-bench-serve-")
    env = dict(os.environ, IRZOO_HOME=os.path.join(work, "store"), TMPDIR=work, TERM="dumb")
    server = None
    try:
        subprocess.run([a.irzoo, "import", os.path.join(a.fixtures, "models/symunet-tiny/checkpoint.pth"), "--arch", "symunet",
                        "--name", "tiny"], env=env, check=True, stdout=subprocess.DEVNULL)
        folder = os.path.join(work, "images")
        os.makedirs(folder)
        images = []
        for i in range(a.images):
            p = os.path.join(folder, f"img{i:03d}.png")
            write_png(p, a.size, a.size, seed=i)
            images.append(p)
        log = open(os.path.join(work, "serve.out"), "w+")
        server = subprocess.Popen([a.irzoo, "serve", "--port", "0", "--queue", str(a.images + 8), "--keep-finished", "64"],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
        port = None
        for _ in range(600):
            log.seek(0)
            m = re.search(r"http://127\.0\.0\.1:(\d+)/", log.read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.05)
        if port is None:
            raise SystemExit("irzoo serve did not start")
        print(f"model: symunet-tiny golden (tiny); {a.images} images {a.size}x{a.size} RGB PNG; {a.clients} API clients; "
              f"server pid {server.pid}; rounds interleaved: {a.rounds}")
        print(f"server RSS at start: {proc_kib(server.pid, 'VmRSS') / 1024:.1f} MiB")
        for r in range(a.rounds):
            cli_dir = os.path.join(work, f"cli{r}")
            cli_s = through_cli(a.irzoo, env, folder, cli_dir)
            api_s, lat, results, errors, rss = through_api(port, images, a.clients, server.pid)
            same = sum(1 for p in images if p in results and results[p] == open(os.path.join(cli_dir, os.path.basename(p)), "rb").read())
            print(f"round {r + 1}: irzoo run on the folder: {cli_s:.2f} s = {a.images / cli_s:.1f} img/s | "
                  f"API: {api_s:.2f} s = {a.images / api_s:.1f} img/s, p50 {pct(lat, 50) * 1000:.0f} ms, p99 {pct(lat, 99) * 1000:.0f} ms, "
                  f"errors {len(errors)} | API/CLI throughput {cli_s / api_s:.2f}x | results equal to irzoo run: {same}/{a.images}")
            print(f"  server RSS after each quarter (MiB): {' '.join(f'{k / 1024:.1f}' for k in rss)}")
            if errors:
                print("  first error:", errors[0])
        print(f"server peak RSS (VmHWM): {proc_kib(server.pid, 'VmHWM') / 1024:.1f} MiB")
        if a.big:
            responsiveness(port, server.pid, work, a.big)
    finally:
        if server is not None and server.poll() is None:
            os.kill(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
