#!/usr/bin/env bash
# The RNG certification pack: runs external test batteries on `croupier rng-dump` output and
# writes a report a test lab can read (docs/rng-report.md by default).
#
#   scripts/rng-report.sh            the long run: dieharder's whole battery (-a) on the raw
#                                    stream, 5,000,000 draws of every scaled range the games
#                                    use, 50,000 shoe shuffles (an hour or more on 2 cores)
#   scripts/rng-report.sh --quick    seconds: three dieharder tests, 200,000 draws per range,
#                                    2,000 shuffles (the test suite runs this one)
#   --out FILE                       where the report goes
#
# Needs dieharder and Python 3 with NumPy and SciPy (scripts/install-test-deps.sh installs
# them) and a built croupier (CROUPIER_BIN, default target/release/croupier). Exits non-zero if
# any test FAILED (p < 1e-6 or p > 1 - 1e-6); WEAK results are reported, as dieharder does.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
out=docs/rng-report.md
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out="$2"; shift ;;
    *) echo "rng-report: unknown argument $1 (use --quick, --out FILE)" >&2; exit 2 ;;
  esac
  shift
done
bin="${CROUPIER_BIN:-target/release/croupier}"
[ -x "$bin" ] || { echo "rng-report: no croupier at $bin (cargo build --release)" >&2; exit 2; }
command -v dieharder >/dev/null || { echo "rng-report: dieharder missing (scripts/install-test-deps.sh)" >&2; exit 2; }
py=python3
$py -c 'import scipy' 2>/dev/null || py=/usr/bin/python3
$py -c 'import scipy' 2>/dev/null || { echo "rng-report: SciPy missing (scripts/install-test-deps.sh)" >&2; exit 2; }

if [ "$quick" = 1 ]; then
  # dieharder runs one -d per invocation (the last one given wins): one run each.
  draws=200000; shuffles=2000; batteries=("-d 0" "-d 100" "-d 202"); battery_name="dieharder -d 0, -d 100, -d 202"
else
  draws=5000000; shuffles=50000; batteries=("-a"); battery_name="dieharder -a (every test)"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Every scaled range play draws from: each reel strip's length (base and free-spin reels of
# every shipped game), the 37 pockets of European roulette; the shoe's shuffle is tested whole.
ranges=$($py - <<'PY'
import glob, tomllib
lengths = set()
for path in sorted(glob.glob("config/games/*.toml")):
    game = tomllib.load(open(path, "rb"))
    def walk(v):
        if isinstance(v, dict):
            for key, value in v.items():
                if key == "reels" and isinstance(value, list):
                    lengths.update(len(reel) for reel in value if isinstance(reel, list))
                else:
                    walk(value)
        elif isinstance(v, list):
            for item in v:
                walk(item)
    walk(game)
lengths.add(37)
print(" ".join(str(n) for n in sorted(lengths)))
PY
)
shoe=416  # 8 decks, the shipped baccarat tables' shoe

results="$work/results.jsonl"
: > "$results"
for k in $ranges; do
  "$bin" rng-dump --range "$k" --count "$draws" > "$work/range-$k.txt"
  $py scripts/rng_stats.py range "$k" "$work/range-$k.txt" >> "$results"
done
"$bin" rng-dump --shuffle "$shoe" --count "$shuffles" > "$work/shuffle.txt"
$py scripts/rng_stats.py shuffle "$shoe" "$work/shuffle.txt" >> "$results"

# dieharder reads the raw stream from stdin (-g 200) and stops when it has what it needs; the
# dump then ends on the closed pipe.
started=$(date +%s)
: > "$work/dieharder.txt"; : > "$work/dieharder-errors.txt"
for battery in "${batteries[@]}"; do
  # shellcheck disable=SC2086  # "-d 0" is two arguments
  { "$bin" rng-dump --bytes 1000000000000000 2>>"$work/dump-errors.txt" \
      | dieharder -g 200 $battery 2>>"$work/dieharder-errors.txt" || true; } >> "$work/dieharder.txt"
done
battery_seconds=$(( $(date +%s) - started ))

$py - "$results" "$work/dieharder.txt" "$out" "$quick" "$draws" "$shuffles" "$battery_name" \
  "$battery_seconds" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "$("$bin" --version)" "$(uname -srm)" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" "$(nproc)" <<'PY'
import json, sys, datetime
(results, dh, out, quick, draws, shuffles, battery, seconds, commit, version, kernel, cpu,
 cores) = sys.argv[1:14]
rows = [json.loads(line) for line in open(results)]
battery_rows = []
for line in open(dh):
    parts = [p.strip() for p in line.split("|")]
    if len(parts) == 6 and parts[0] != "test_name":
        battery_rows.append(parts)
if not battery_rows:
    sys.exit("rng-report: dieharder printed no results; it printed:\n" + open(dh).read()
             + "\nits errors:\n" + open(dh.replace("dieharder.txt", "dieharder-errors.txt")).read())
verdicts = [r["verdict"] for r in rows] + [b[5] for b in battery_rows]
failed = sum(v == "FAILED" for v in verdicts)
weak = sum(v == "WEAK" for v in verdicts)
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
cmd = "scripts/rng-report.sh" + (" --quick" if quick == "1" else "")
w = []
w.append("# RNG report")
w.append("")
w.append("Written by `%s` (do not edit: run it again). What is tested, and why, is in" % cmd)
w.append("docs/security.md and docs/games.md; the generator is `croupier_core::rng` (ChaCha20 keyed")
w.append("from the OS, one stream per shard, reseeded from the OS; ranges by rejection sampling).")
w.append("")
w.append("| | |")
w.append("|---|---|")
w.append("| run | %s, %s |" % (now, "quick" if quick == "1" else "long"))
w.append("| build | %s, commit `%s` |" % (version, commit))
w.append("| machine | %s, %s cores, %s |" % (cpu, cores, kernel))
w.append("| scaled draws | %s per range, each range through `rng-dump --range K` (the games' sampler) |" % f"{int(draws):,}")
w.append("| shuffles | %s shoes of 416 cards through `rng-dump --shuffle 416` (the shoe's own shuffle) |" % f"{int(shuffles):,}")
w.append("| raw stream | %s on `rng-dump --bytes` (%s s) |" % (battery, seconds))
w.append("| verdicts | %d tests: %d FAILED, %d WEAK (p < 0.005 or > 0.995; about 1 in 100 by chance), the rest PASSED |" % (len(verdicts), failed, weak))
w.append("")
w.append("A FAILED verdict is p < 1e-6 or p > 1 - 1e-6, dieharder's own threshold. For a sound")
w.append("generator every p-value is uniform on (0, 1).")
w.append("")
w.append("## Scaled ranges and the shuffle (SciPy)")
w.append("")
w.append("| subject | test | n | statistic | p-value | verdict |")
w.append("|---|---|---|---|---|---|")
for r in rows:
    w.append("| %s | %s | %s | %.6g | %.6f | %s |" % (r["subject"], r["test"], f"{r['n']:,}", r["statistic"], r["p"], r["verdict"]))
w.append("")
w.append("## dieharder on the raw stream")
w.append("")
w.append("| test | ntup | tsamples | psamples | p-value | assessment |")
w.append("|---|---|---|---|---|---|")
for b in battery_rows:
    w.append("| %s |" % " | ".join(b))
open(out, "w").write("\n".join(w) + "\n")
print("rng-report: %d tests, %d FAILED, %d WEAK -> %s" % (len(verdicts), failed, weak, out))
for r in rows:
    if r["verdict"] == "FAILED":
        print("rng-report: FAILED %s %s: p = %g" % (r["subject"], r["test"], r["p"]), file=sys.stderr)
for b in battery_rows:
    if b[5] == "FAILED":
        print("rng-report: FAILED dieharder %s: p = %s" % (b[0], b[4]), file=sys.stderr)
sys.exit(1 if failed else 0)
PY
