#!/usr/bin/env bash
# make bench-registry (issue 16): push and pull of a 1 GiB model to a loopback docker-registry
# (CNCF Distribution 2.8, Debian's package), irzoo beside `skopeo copy` of the same bytes as an OCI
# image layout, interleaved, each push into a freshly started, empty registry. Prints MB/s and
# peak RSS (GNU time) per tool and the ratios. Usage: Benchmarks/registry.sh [MIB] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib.sh
MIB=${1:-1024}
ROUNDS=${2:-3}
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/irzoo-bench-registry.XXXXXX")
REG_PID=
cleanup() { [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
IRZOO=$(irzoo_bin)
load_note
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p') (family $(lscpu | sed -n 's/^CPU family: *//p') model $(lscpu | sed -n 's/^Model: *//p'), $(nproc) cores); avx512f: $(grep -q avx512f /proc/cpuinfo && echo yes || echo no); sha_ni: $(grep -q sha_ni /proc/cpuinfo && echo yes || echo no)"
echo "irzoo: async-http-client; skopeo: $(skopeo --version); registry: $(docker-registry --version)"

# The model: a safetensors file of 64 MiB f32 tensors of random bytes, imported raw.
python3 - "$TMP/model.safetensors" "$MIB" <<'PYEOF'
import json, os, struct, sys
path, mib = sys.argv[1], int(sys.argv[2])
n, each = max(1, mib // 64), min(mib, 64) << 20
header, offset = {}, 0
for i in range(n):
    header[f"layers.{i}.weight"] = {"dtype": "F32", "shape": [each // 4], "data_offsets": [offset, offset + each]}
    offset += each
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h)
    for i in range(n):
        f.write(os.urandom(each))
PYEOF
export IRZOO_HOME="$TMP/store"
"$IRZOO" import "$TMP/model.safetensors" --arch raw --name bench >/dev/null
rm "$TMP/model.safetensors"
TREE=$("$IRZOO" show bench --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["blob"]["digest"])')
BLOB="$TMP/store/blobs/sha256-$TREE.irw"
SIZE=$(stat -c %s "$BLOB")
OCI=$(sha256sum "$BLOB" | cut -d' ' -f1)

# The same bytes as an OCI image layout for skopeo: one uncompressed layer (a hard link to the blob).
L="$TMP/layout"
mkdir -p "$L/blobs/sha256"
ln "$BLOB" "$L/blobs/sha256/$OCI"
echo '{"imageLayoutVersion":"1.0.0"}' > "$L/oci-layout"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$OCI" > "$TMP/config.json"
CFG=$(sha256sum "$TMP/config.json" | cut -d' ' -f1); mv "$TMP/config.json" "$L/blobs/sha256/$CFG"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}' \
  "$CFG" "$(stat -c %s "$L/blobs/sha256/$CFG")" "$OCI" "$SIZE" > "$TMP/manifest.json"
MAN=$(sha256sum "$TMP/manifest.json" | cut -d' ' -f1); MSIZE=$(stat -c %s "$TMP/manifest.json"); mv "$TMP/manifest.json" "$L/blobs/sha256/$MAN"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' "$MAN" "$MSIZE" > "$L/index.json"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG="127.0.0.1:$PORT"
# fresh_registry: stops the registry (if any) and starts it again on empty storage.
fresh_registry() {
  [ -n "$REG_PID" ] && { kill "$REG_PID"; wait "$REG_PID" 2>/dev/null || true; }
  rm -rf "$TMP/reg"; mkdir -p "$TMP/reg"
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n  secret: bench\n' "$TMP/reg" "$REG" > "$TMP/registry.yml"
  docker-registry serve "$TMP/registry.yml" >"$TMP/registry.log" 2>&1 &
  REG_PID=$!
  for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return; sleep 0.1; done
  echo "docker-registry did not start" >&2; cat "$TMP/registry.log" >&2; exit 1
}
SKOPEO_OPTS=(--dest-tls-verify=false --src-tls-verify=false --preserve-digests --quiet)
export HOME="$TMP/home"; mkdir -p "$HOME" # skopeo's blob-info cache starts empty

for round in $(seq "$ROUNDS"); do
  # Push: each tool into an empty registry (nothing to skip, nothing to mount).
  fresh_registry
  timed "$TMP/t.push.irzoo" "$IRZOO" push bench "$REG/bench/model:r$round"
  fresh_registry
  timed "$TMP/t.push.skopeo" skopeo copy "${SKOPEO_OPTS[@]}" "oci:$L:bench" "docker://$REG/bench/model:r$round"
  # Pull from the registry skopeo just filled (the same layer bytes), into empty targets.
  "$IRZOO" push bench "$REG/bench/irzoo:r$round" >/dev/null
  rm -rf "$TMP/pulled" "$TMP/out-layout"; sync
  IRZOO_HOME="$TMP/pulled" timed "$TMP/t.pull.irzoo" "$IRZOO" pull "$REG/bench/irzoo:r$round"
  timed "$TMP/t.pull.skopeo" skopeo copy "${SKOPEO_OPTS[@]}" "docker://$REG/bench/model:r$round" "oci:$TMP/out-layout:bench"
  cmp -s "$BLOB" "$TMP/pulled/blobs/sha256-$TREE.irw" || { echo "irzoo pulled other bytes" >&2; exit 1; }
  cmp -s "$BLOB" "$TMP/out-layout/blobs/sha256/$OCI" || { echo "skopeo pulled other bytes" >&2; exit 1; }
done
load_note

python3 - "$TMP" "$SIZE" <<'PYEOF'
import sys
tmp, size = sys.argv[1], int(sys.argv[2])
def runs(name):
    return [tuple(map(float, l.split())) for l in open(f"{tmp}/t.{name}") if l.strip()]
print(f"model: {size / 2**20:.0f} MiB .irw blob; {len(runs('push.irzoo'))} interleaved rounds; best (range) of wall time")
for op in ("push", "pull"):
    i, s = runs(f"{op}.irzoo"), runs(f"{op}.skopeo")
    bi, bs = min(i), min(s)
    mb = lambda t: size / t / 1e6
    print(f"{op}: irzoo {bi[0]:.2f} s ({mb(bi[0]):.0f} MB/s, range {min(x[0] for x in i):.2f}-{max(x[0] for x in i):.2f} s), "
          f"peak RSS {max(x[1] for x in i) / 1024:.0f} MiB | skopeo copy {bs[0]:.2f} s ({mb(bs[0]):.0f} MB/s, range "
          f"{min(x[0] for x in s):.2f}-{max(x[0] for x in s):.2f} s), peak RSS {max(x[1] for x in s) / 1024:.0f} MiB | "
          f"irzoo/skopeo time {bi[0] / bs[0]:.2f}x")
    if op == "push":
        print(f"  irzoo's first push (round 1) hashed the blob first (no digest recorded yet): {i[0][0]:.2f} s")
PYEOF
