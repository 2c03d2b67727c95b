#!/usr/bin/env bash
# A tour of the API: one batch from an empty registry to a verified label. Paste it into a
# shell from the repository (after `pip install -e .`), or run `bash docs/tour.sh`; the
# test suite runs it (tests/core/test_tour.py). PORT=8123 picks another port. It runs in a
# subshell that stops at the first failing step, and leaves your shell as it was.
(
set -eo pipefail
PORT=${PORT:-8000}
REGISTRY=${REGISTRY:-.venv/bin/registry}
BASE=http://127.0.0.1:$PORT
TOUR=$(mktemp -d)  # the tour's own database, job files and downloads
export REGISTRY_DATABASE_URL="sqlite:///$TOUR/registry.db"
export REGISTRY_PUBLIC_URL=$BASE  # label URLs point at this server, on this port
export REGISTRY_JOB_OUTPUT_DIR=$TOUR/jobs
jget() {  # print a field of the JSON on stdin: jget id, jget 0 url
  python3 -c 'import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1:]:
    d = d[int(k)] if isinstance(d, list) else d[k]
print(d)' "$@"
}
H="Authorization: Bearer"
J="Content-Type: application/json"

# 1. Schema, the first admin key (shown once), and the server; wait until it answers.
# (The tour's keys open its own server only: with the demo still on this port, stop it.)
! curl -s "$BASE/healthz" > /dev/null ||
  { echo "something already answers on $BASE: stop it or set PORT=8123 first" >&2; false; }
$REGISTRY db upgrade
ADMIN=$($REGISTRY admin create-org --name "Registry admin" --kind admin --json | jget api_key)
$REGISTRY serve --port "$PORT" > "$TOUR/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2> /dev/null' EXIT  # the server stops with the tour, however it ends
for _ in $(seq 100); do curl -sf "$BASE/healthz" > /dev/null && break; sleep 0.2; done
curl -sS --fail-with-body "$BASE/readyz"; echo

# 2. The admin registers the organizations; each answer carries the org's id and API key.
R=$(curl -sS --fail-with-body -H "$H $ADMIN" -H "$J" -d '{"name": "榕江县脐橙协会", "name_en": "Rongjiang Navel Orange Association", "kind": "brand_owner", "county_code": "522632"}' "$BASE/v1/orgs")
OWNER=$(echo "$R" | jget api_key)
R=$(curl -sS --fail-with-body -H "$H $ADMIN" -H "$J" -d '{"name": "榕江县寨蒿果业专业合作社", "name_en": "Zhaibian Fruit Cooperative", "kind": "cooperative", "county_code": "522632"}' "$BASE/v1/orgs")
COOP_ID=$(echo "$R" | jget id); COOP=$(echo "$R" | jget api_key)
R=$(curl -sS --fail-with-body -H "$H $ADMIN" -H "$J" -d '{"name": "贵阳冷链物流有限公司", "name_en": "Guiyang Cold Chain Co.", "kind": "handler", "county_code": "520102"}' "$BASE/v1/orgs")
HANDLER_ID=$(echo "$R" | jget id); HANDLER=$(echo "$R" | jget api_key)
R=$(curl -sS --fail-with-body -H "$H $ADMIN" -H "$J" -d '{"name": "黔东南州市场监督管理局", "name_en": "Qiandongnan Market Regulation Bureau", "kind": "regulator", "county_code": "522601"}' "$BASE/v1/orgs")
REGULATOR=$(echo "$R" | jget api_key)
echo "owner, cooperative $COOP_ID, handler $HANDLER_ID and regulator registered"

# 3. The owner defines the brand and its production area, and licenses the cooperative.
curl -sS --fail-with-body -H "$H $OWNER" -H "$J" -d '{"slug": "rongjiang-navel-orange", "name": "Rongjiang Navel Orange", "name_local": "榕江脐橙", "category": "navel orange", "category_local": "脐橙", "county_codes": ["522632"]}' "$BASE/v1/brands"; echo
YEAR=$(date -u +%Y)
curl -sS --fail-with-body -H "$H $OWNER" -H "$J" -d "{\"org_id\": \"$COOP_ID\", \"valid_from\": \"$YEAR-01-01\", \"valid_to\": \"$((YEAR + 1))-12-31\", \"annual_quota_kg\": 200000}" "$BASE/v1/brands/rongjiang-navel-orange/licenses"; echo

# 4. The cooperative registers a batch, records its harvest (an Idempotency-Key makes a
#    retry safe), an inspection and the packing.
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ); TODAY=$(date -u +%Y-%m-%d)
BATCH=$(curl -sS --fail-with-body -H "$H $COOP" -H "$J" -d '{"brand": "rongjiang-navel-orange", "lot": "RJ-TOUR-A", "product": "脐橙", "variety": "纽荷尔", "gtin": "06901234567892", "translations": {"en": {"product": "navel orange", "variety": "Newhall"}}}' "$BASE/v1/batches" | jget id)
curl -sS --fail-with-body -H "$H $COOP" -H "$J" -H "Idempotency-Key: tour-harvest-1" -d "{\"type\": \"harvested\", \"event_time\": \"$NOW\", \"location\": {\"county_code\": \"522632\", \"place\": \"寨蒿村 A-12 地块\"}, \"data\": {\"quantity\": 5000, \"unit\": \"kg\", \"harvest_date\": \"$TODAY\", \"plot\": \"A-12\", \"translations\": {\"en\": {\"place\": \"Zhaibian village, plot A-12\"}}}}" "$BASE/v1/batches/$BATCH/events" | jget hash
curl -sS --fail-with-body -H "$H $COOP" -H "$J" -d "{\"type\": \"inspected\", \"event_time\": \"$NOW\", \"data\": {\"method\": \"GB 2763 multi-residue screen\", \"analytes\": [\"chlorpyrifos\"], \"result\": \"pass\"}}" "$BASE/v1/batches/$BATCH/events" | jget seq
curl -sS --fail-with-body -H "$H $COOP" -H "$J" -d "{\"type\": \"packed\", \"event_time\": \"$NOW\", \"data\": {\"units\": 1000, \"unit_size\": 5, \"unit\": \"kg\"}}" "$BASE/v1/batches/$BATCH/events" | jget seq

# 5. Labels for packed units: a run of signed codes, its URLs for a printer, one QR image,
#    and a PDF sheet made by a background job (poll it, then download the result).
RUN=$(curl -sS --fail-with-body -H "$H $COOP" -H "$J" -d '{"count": 100}' "$BASE/v1/batches/$BATCH/labels" | jget run_id)
curl -sS --fail-with-body -H "$H $COOP" "$BASE/v1/labels/runs/$RUN/codes?format=csv" > "$TOUR/codes.csv"
LABEL_URL=$(curl -sS --fail-with-body -H "$H $COOP" "$BASE/v1/labels/runs/$RUN/codes?limit=1" | jget items 0 url)
curl -sS --fail-with-body -H "$H $COOP" -o "$TOUR/label.png" "$BASE/v1/labels/runs/$RUN/qr/00000001.png"
curl -sS --fail-with-body "$BASE/v1/labels/layouts" | jget layouts 0 module_mm
JOB=$(curl -sS --fail-with-body -H "$H $COOP" -H "$J" -d '{"layout": "a4-3x8"}' "$BASE/v1/labels/runs/$RUN/sheet" | jget job_id)
for _ in $(seq 100); do
  STATE=$(curl -sS --fail-with-body -H "$H $COOP" "$BASE/v1/jobs/$JOB" | jget state)
  [ "$STATE" = succeeded ] || [ "$STATE" = failed ] && break; sleep 0.2
done
curl -sS --fail-with-body -H "$H $COOP" -o "$TOUR/labels.pdf" "$BASE/v1/jobs/$JOB/result"
echo "label run $RUN: $LABEL_URL (sheet job $STATE)"

# 6. The goods leave: the cooperative ships 400 boxes, the handler receives them.
curl -sS --fail-with-body -H "$H $COOP" -H "$J" -d "{\"type\": \"shipped\", \"event_time\": \"$NOW\", \"data\": {\"quantity\": 400, \"unit\": \"box\", \"to_org_id\": \"$HANDLER_ID\"}}" "$BASE/v1/batches/$BATCH/events" | jget seq
curl -sS --fail-with-body -H "$H $HANDLER" -H "$J" -d "{\"type\": \"received\", \"event_time\": \"$NOW\", \"data\": {\"quantity\": 400, \"unit\": \"box\", \"from_org_id\": \"$COOP_ID\"}}" "$BASE/v1/batches/$BATCH/events" | jget seq

# 7. Anyone verifies a label: a phone gets the bilingual page (Chinese, or ?lang=en), a
#    program asks for JSON, a platform checks codes in bulk; offline, with the key set.
curl -sS --fail-with-body -H 'Accept: application/json' "$LABEL_URL" | jget verdict
curl -sS --fail-with-body -H "$J" -d "{\"codes\": [\"$LABEL_URL\"]}" "$BASE/v1/verify" | jget results 0 verdict
curl -sS --fail-with-body "$BASE/.well-known/registry-keys.json" > "$TOUR/keys.json"
$REGISTRY verify-code "$LABEL_URL" --offline --keys "$TOUR/keys.json"
echo "pages: $BASE/  $BASE/brands/rongjiang-navel-orange  $BASE/docs"

# 8. The regulator audits the chain; the operator audits every chain and rotates the label
#    key (old labels keep verifying; `keys revoke ID` would make them invalid).
curl -sS --fail-with-body -H "$H $REGULATOR" "$BASE/v1/batches/$BATCH/audit"; echo
$REGISTRY audit --all
$REGISTRY keys rotate
curl -sS --fail-with-body -H 'Accept: application/json' "$LABEL_URL" | jget verdict

# More to try: the transparency log's signed checkpoint (GET /v1/log/checkpoint), a
# regulator's export (GET /v1/audit/export), the cooperative console (/console/).
echo "tour done; its files are in $TOUR"
)
