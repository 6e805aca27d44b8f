#!/usr/bin/env bash
# Copy throughput GRA7 → SBG5 on the loopback cloud: the action (dist, mode copy) against curl
# (download piped into upload) and the openstack CLI (image save, then image create --file).
# Usage: bench/copy-compare.sh [MiB]   (hold flock -o /tmp/osa-real.lock around it)
set -euo pipefail
MIB=${1:-1024}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. /tmp/osl/demo.env
OS=/usr/bin/openstack
TOKEN=$($OS token issue -f value -c id)
G1=http://127.0.0.1:9292 G2=http://127.0.0.1:9293
TAG=osa-bench-copy-$$
SRC_FILE=$(mktemp /tmp/osa-copy-src.XXXX)
head -c $((MIB * 1024 * 1024)) /dev/urandom > "$SRC_FILE"
SRC=$($OS --os-region-name GRA7 image create --disk-format qcow2 --container-format bare --private --property osa_e2e_run=$TAG --file "$SRC_FILE" -f value -c id "$TAG-src")
rm -f "$SRC_FILE"
now() { date +%s.%N; }
new_image() { curl -sf -X POST -H "x-auth-token: $TOKEN" -H 'content-type: application/json' "$G2/v2/images" -d "{\"name\":\"$TAG-$1\",\"disk_format\":\"qcow2\",\"container_format\":\"bare\",\"osa_e2e_run\":\"$TAG\"}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])'; }
# curl: GET piped into PUT
DST=$(new_image curl)
t0=$(now)
curl -sf -H "x-auth-token: $TOKEN" "$G1/v2/images/$SRC/file" | curl -sf -X PUT -H "x-auth-token: $TOKEN" -H 'content-type: application/octet-stream' -T - "$G2/v2/images/$DST/file"
t1=$(now)
echo "curl pipe: $(python3 -c "print(f'{$t1-$t0:.1f} s, {$MIB*1.048576/($t1-$t0):.1f} MB/s')")"
# the action
OUT=$(mktemp)
t0=$(now)
/usr/bin/time -f '%M' -o /tmp/osa-copy-rss env -i PATH=$PATH GITHUB_OUTPUT=$OUT INPUT_MODE=copy INPUT_REGION=GRA7 INPUT_SNAPSHOT-ID=$SRC INPUT_COPY-TO-REGION=SBG5 \
  INPUT_AUTH-URL=$OS_AUTH_URL INPUT_USERNAME=$OS_USERNAME INPUT_PASSWORD=$OS_PASSWORD INPUT_PROJECT-NAME=$OS_PROJECT_NAME INPUT_USER-DOMAIN-NAME=Default INPUT_PROJECT-DOMAIN-NAME=Default \
  INPUT_RATE-LIMIT=10 INPUT_TIMEOUT=2h "$ROOT/node_modules/.bin/node" "$ROOT/dist/index.js" >/dev/null
t1=$(now)
echo "action: $(python3 -c "print(f'{$t1-$t0:.1f} s wall, {$MIB*1.048576/($t1-$t0):.1f} MB/s')"), peak RSS $(( $(cat /tmp/osa-copy-rss) / 1024 )) MiB; $(grep -o '"seconds":[0-9.]*' $OUT | head -1)"
rm -f "$OUT"
# openstack CLI: save to disk, then create from the file
SAVE=$(mktemp /tmp/osa-copy-cli.XXXX)
t0=$(now)
$OS --os-region-name GRA7 image save --file "$SAVE" "$SRC"
DISK=$(du -m "$SAVE" | cut -f1)
$OS --os-region-name SBG5 image create --disk-format qcow2 --container-format bare --private --property osa_e2e_run=$TAG --file "$SAVE" -f value -c id "$TAG-cli" >/dev/null
t1=$(now)
rm -f "$SAVE"
echo "openstack CLI: $(python3 -c "print(f'{$t1-$t0:.1f} s, {$MIB*1.048576/($t1-$t0):.1f} MB/s')"), ${DISK} MiB on disk"
# clean up every image of this run in both regions
for R in GRA7 SBG5; do
  for id in $($OS --os-region-name $R image list --private --property osa_e2e_run=$TAG -f value -c ID); do $OS --os-region-name $R image delete "$id"; done
done
