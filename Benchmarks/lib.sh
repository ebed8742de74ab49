# Helpers shared by the store and convert benchmarks (sourced).

# timed OUTFILE CMD...: runs CMD under /usr/bin/time, appends "seconds max_rss_kib" to OUTFILE.
timed() {
  local out=$1; shift
  /usr/bin/time -f '%e %M' -a -o "$out" "$@" >/dev/null
}

# best OUTFILE: the run with the lowest time, as "seconds rss_kib".
best() { sort -n "$1" | head -1; }

load_note() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (numbers are noisy when it is above ~1)"; }
