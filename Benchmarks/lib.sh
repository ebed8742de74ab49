# Helpers shared by the benchmark scripts (sourced).

# SWIFT_SCRATCH=DIR builds into DIR instead of .build (so a benchmark can run beside other builds).
SCRATCH=()
if [ -n "${SWIFT_SCRATCH:-}" ]; then SCRATCH=(--scratch-path "$SWIFT_SCRATCH"); fi

# bin_dir PRODUCT...: builds the products (release) and prints their directory. With
# IRZOO_BIN_DIR set, uses the binaries already there instead.
bin_dir() {
  if [ -n "${IRZOO_BIN_DIR:-}" ]; then echo "$IRZOO_BIN_DIR"; return; fi
  local p
  for p in "$@"; do swift build -c release "${SCRATCH[@]}" --product "$p" >&2; done
  swift build -c release "${SCRATCH[@]}" --show-bin-path
}

# irzoo_bin: the irzoo binary to time: $IRZOO_BIN when set, else a fresh release build's.
irzoo_bin() {
  if [ -n "${IRZOO_BIN:-}" ]; then echo "$IRZOO_BIN"; return; fi
  echo "$(bin_dir irzoo)/irzoo"
}

# timed OUTFILE CMD...: runs CMD under /usr/bin/time, appends "seconds max_rss_kib" to OUTFILE.
timed() {
  local out=$1; shift
  /usr/bin/time -f '%e %M' -a -o "$out" "$@" >/dev/null 2>&1
}

# best OUTFILE: the run with the lowest time, as "seconds rss_kib".
best() { sort -n "$1" | head -1; }

load_note() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (numbers are noisy when it is above ~1)"; }

# wait_for_memory GIB: on a shared machine, waits until GIB GiB are available before a process that
# needs them starts (so a released-size model does not push someone else's job into the OOM killer).
wait_for_memory() {
  local need=$(($1 * 1048576)) said=
  while [ "$(awk '/MemAvailable/ {print $2}' /proc/meminfo)" -lt "$need" ]; do
    [ -n "$said" ] || { echo "waiting for $1 GiB of free memory..." >&2; said=1; }
    sleep 5
  done
}
