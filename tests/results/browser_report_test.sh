#!/bin/bash
# Renders `mad report` in Debian's headless Chromium and checks the screenshot is not blank: the page
# draws (score table, charts, drawings), not only parses. Exit 77 (skipped) without chromium or without
# python3-pil to read the PNG. Usage: browser_report_test.sh MAD MAKE_SAMPLE_DB PYTHON
set -u
source "$(dirname "$0")/../cli/common.sh" "$1"
make_sample_db=$2 python=$3
chromium=$(command -v chromium || command -v chromium-browser) || { echo "no chromium (apt-get install chromium): skipped"; exit 77; }
"$python" -c "import PIL" 2>/dev/null || { echo "no python3-pil: skipped"; exit 77; }

"$make_sample_db" "$tmp/r.db" --seeds >/dev/null
expect_ok "report" "$mad" report --db "$tmp/r.db" --out "$tmp/report"
# --no-sandbox: root in a container has no user namespaces for the sandbox.
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1800 \
  --screenshot="$tmp/page.png" "file://$tmp/report/index.html" >"$tmp/chromium.log" 2>&1
[ -s "$tmp/page.png" ] || { echo "chromium wrote no screenshot: skipped ($(tail -n 2 "$tmp/chromium.log"))"; exit 77; }
"$python" - "$tmp/page.png" <<'PY' || fail "the screenshot looks blank"
import sys
from PIL import Image
image = Image.open(sys.argv[1]).convert("RGB")
pixels = list(image.getdata())
inked = sum(1 for p in pixels if sum(p) < 600) / len(pixels)     # not white or near-white
colours = len(set(pixels))
print(f"{image.size[0]}x{image.size[1]}: {inked:.1%} inked, {colours} colours")
assert inked > 0.01 and colours > 20, (inked, colours)
PY
finish browser_report
