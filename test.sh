#!/usr/bin/env bash
# Installs what is missing, builds, runs every test: unit tests (Bazel) and the end-to-end
# suite through the real tsc/tsr command lines. Last line: "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")"

tools/install_deps.sh || { echo "0 passed, 1 failed"; exit 1; }

failed_build=0
log=$(mktemp)
echo "== bazel test //... (unit tests)"
bazel test //... --test_output=errors --keep_going 2>&1 | tee "$log" | grep -E "^(//|ERROR|FAIL|Executed|INFO: Build)" || true
bazel_rc=${PIPESTATUS[0]}

# Count test cases from the JUnit XML that each gtest target writes.
read -r unit_pass unit_fail < <(/usr/bin/python3 - <<'PY'
import glob, os, xml.etree.ElementTree as ET
p = f = 0
for x in glob.glob(os.path.join(os.path.realpath("bazel-testlogs"), "**", "test.xml"), recursive=True):
    try:
        root = ET.parse(x).getroot()
    except ET.ParseError:
        f += 1
        continue
    for tc in root.iter("testcase"):
        if tc.find("failure") is not None or tc.find("error") is not None:
            f += 1
        elif tc.get("result", "completed") != "suppressed" and tc.find("skipped") is None:
            p += 1
print(p, f)
PY
)
if [ "$bazel_rc" -ne 0 ] && [ "$unit_fail" -eq 0 ]; then
  unit_fail=1   # a target failed to build or crashed before writing its XML
fi
echo "unit tests: $unit_pass passed, $unit_fail failed (bazel exit $bazel_rc)"

echo "== end-to-end (tests/e2e/run_e2e.py)"
e2e_log=$(mktemp)
/usr/bin/python3 tests/e2e/run_e2e.py --tsc bazel-bin/cli/tsc --tsr bazel-bin/cli/tsr \
  --work "${TMPDIR:-/tmp}/tensorshunt-e2e" 2>&1 | tee "$e2e_log" | grep -v "^PASS" || true
e2e_line=$(grep -E "^e2e: [0-9]+ passed, [0-9]+ failed" "$e2e_log" | tail -1)
if [ -z "$e2e_line" ]; then
  e2e_pass=0; e2e_fail=1
else
  e2e_pass=$(echo "$e2e_line" | sed -E 's/e2e: ([0-9]+) passed.*/\1/')
  e2e_fail=$(echo "$e2e_line" | sed -E 's/.* ([0-9]+) failed/\1/')
fi
rm -f "$log" "$e2e_log"

passed=$((unit_pass + e2e_pass))
failed=$((unit_fail + e2e_fail))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
