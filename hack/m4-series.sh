#!/usr/bin/env bash
# Writes one M4 hourly series (tests/data/m4_hourly_train.csv) as a `timestamp,value` CSV that
# `deepseek-operator simulate --trace` reads: unix timestamps one hour apart from 1600000000.
#
#   hack/m4-series.sh H120 > /tmp/m4_H120.csv
set -euo pipefail
id=${1:?usage: hack/m4-series.sh SERIES_ID (e.g. H120)}
data=${DSO_TEST_DATA:-$(dirname "$0")/../tests/data}/m4_hourly_train.csv
awk -F, -v id="\"$id\"" -v plain="$id" '
  NR > 1 && ($1 == id || $1 == plain) {
    print "timestamp,value"
    for (i = 2; i <= NF; i++) { v = $i; gsub(/"/, "", v); if (v != "") print 1600000000 + 3600 * (i - 2) "," v }
    found = 1; exit
  }
  END { if (!found) { print "m4-series: no series " plain " in the file" > "/dev/stderr"; exit 1 } }' "$data"
