#!/usr/bin/env bash
# Instructions per GetSecret call, the Fake provider on the full runtime against
# bare tonic + rustls, counted by valgrind's callgrind (repeatable where wall-clock
# timings are not). Each server runs in the bench process (`--bench report` in
# BENCH_MODE=callgrind); CALLS sequential calls on one mTLS connection are counted,
# client and server, every thread (--zero-before/--dump-after on the function that
# makes them), after unmeasured warm-up calls.
#
#   bash examples/fake/callgrind.sh                 # CALLS=2000, bare and runtime
#   CALLS=5000 TARGETS="bare runtime kube" bash examples/fake/callgrind.sh
#   TOP=60 bash examples/fake/callgrind.sh
#   BENCH_LOG=0 bash examples/fake/callgrind.sh     # without the provider binary's log subscriber
#
# Prints instructions per call for each server and the functions whose
# instructions per call differ most (inclusive and exclusive), and writes the
# callgrind files to target/callgrind/ (or OUT) for callgrind_annotate or kcachegrind.
set -euo pipefail
cd "$(dirname "$0")/../.."

calls=${CALLS:-2000}
targets=${TARGETS:-bare runtime}
top=${TOP:-40}
out=${OUT:-target/callgrind}
mkdir -p "$out"

command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
exe=$(cargo bench -p eso-example-fake --bench report --no-run --message-format=json-render-diagnostics \
    | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "report" and m.get("executable"):
        print(m["executable"])' | tail -n 1)
[ -n "$exe" ] || { echo "could not find the report bench executable" >&2; exit 1; }

for target in $targets; do
    rm -f "$out/$target".*
    echo "callgrind: $target, $calls calls ($exe)" >&2
    BENCH_MODE=callgrind BENCH_TARGET="$target" BENCH_CALLS="$calls" \
        valgrind --tool=callgrind --callgrind-out-file="$out/$target.out" \
        --zero-before=report::callgrind::callgrind_measured_calls --dump-after=report::callgrind::callgrind_measured_calls \
        "$exe" --bench 2>"$out/$target.log" || { tail -n 20 "$out/$target.log" >&2; exit 1; }
done

python3 - "$out" "$calls" "$top" $targets <<'PY'
import collections, re, sys

out, calls, top, targets = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]

def measured_dump(target):
    # --zero-before on entry, --dump-after on return: <file>.1 holds exactly the measured calls.
    path = f"{out}/{target}.out.1"
    try:
        with open(path, errors="replace") as f:
            if "Trigger: --dump-after" in f.read(4096):
                return path
    except OSError:
        pass
    sys.exit(f"no dump of the measured calls for {target} ({path})")

def parse(path):
    """Exclusive and inclusive Ir per function, and calls per function."""
    names = {"fn": {}, "cfn": {}}
    exclusive = collections.Counter()
    inclusive_calls = collections.Counter()
    called = collections.Counter()
    total = 0
    fn = cfn = None
    pending_call = None
    def name(kind, text):
        m = re.match(r"\((\d+)\)(?: (.*))?", text)
        if not m:
            return text
        ident, value = m.group(1), m.group(2)
        if value is not None:
            names["fn"][ident] = value
            return value
        return names["fn"].get(ident, ident)
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("fn="):
                fn = name("fn", line[3:])
            elif line.startswith("cfn="):
                cfn = name("fn", line[4:])
            elif line.startswith("calls="):
                pending_call = int(line[6:].split()[0])
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = max(total, int(line.split()[1]))
            elif line and (line[0].isdigit() or line[0] in "+-*"):
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if pending_call is not None:
                    if cfn != fn:
                        inclusive_calls[fn] += cost
                    called[cfn] += pending_call
                    pending_call = None
                else:
                    exclusive[fn] += cost
    inclusive = collections.Counter(exclusive)
    inclusive.update(inclusive_calls)
    return total, exclusive, inclusive, called

def short(name, width=110):
    name = re.sub(r"::h[0-9a-f]{16}$", "", name)
    return name if len(name) <= width else name[: width - 1] + "…"

data = {t: parse(measured_dump(t)) for t in targets}
print(f"# instructions per GetSecret call ({calls} sequential calls, client and server, one mTLS connection)\n")
for t in targets:
    total, _, _, called = data[t]
    mallocs = called.get("malloc", 0) + called.get("realloc", 0) + called.get("calloc", 0)
    print(f"{t:>10}: {total / calls:>10,.0f} Ir/call   malloc+realloc+calloc {mallocs / calls:6.1f}/call   free {called.get('free', 0) / calls:6.1f}/call")
base = targets[0]
for t in targets[1:]:
    d = (data[t][0] - data[base][0]) / calls
    print(f"{t:>10} - {base}: {d:+,.0f} Ir/call ({data[t][0] / data[base][0]:.2f}×)")

def table(title, rows):
    print(f"\n## {title}\n")
    for value, name in rows:
        print(f"{value:>12,.0f}  {short(name)}")

for t in targets[1:]:
    _, ex_t, in_t, _ = data[t]
    _, ex_b, in_b, _ = data[base]
    names = set(ex_t) | set(ex_b)
    diff_ex = sorted(((ex_t[n] - ex_b[n]) / calls, n) for n in names)
    table(f"{t} − {base}: exclusive Ir/call, largest increases", [r for r in reversed(diff_ex) if r[0] > 0][:top])
    table(f"{t} − {base}: exclusive Ir/call, largest decreases", [r for r in diff_ex if r[0] < 0][: max(5, top // 4)])
    ours = [
        (in_t[n] / calls, n) for n in in_t
        if re.search(r"eso_runtime|eso_example_fake|prometheus_client|tracing|arc_swap|serde_json|regex", n) and n not in in_b
    ]
    table(f"{t}: inclusive Ir/call of functions only on its path (runtime, metrics, tracing, …)", sorted(ours, reverse=True)[:top])
    _, _, _, called_t = data[t]
    _, _, _, called_b = data[base]
    diff_calls = sorted(((called_t[n] - called_b[n]) / calls, n) for n in set(called_t) | set(called_b))
    table(f"{t} − {base}: calls per GetSecret, largest increases", [r for r in reversed(diff_calls) if r[0] > 0.5][: max(10, top // 2)])
PY
