#!/bin/sh
# The small hyper-parameter sweep behind the defaults in src/methods.ts. Selection uses ONLY the
# accuracy on the ID validation split (151 UCI digits held out of training), never a test or OOD set.
# Usage (from apps/bench, after a build): sh scripts/sweep.sh [outdir]
set -e
out=${1:-/tmp/robust-ft-sweep}
run() { # method key value
  node dist/cli.js --quiet --methods "$1" --set "$2=$3" --mnist 100 --corruptions gaussian_noise --severities 1 \
    --out "$out/$1-$2-$3" > /dev/null
  node -e "const r=require('$out/$1-$2-$3/report.json');const m=r.methods.find(x=>x.method==='$1');console.log('$1 $2=$3 idVal='+(100*m.idVal).toFixed(1))"
}
for v in 0.01 0.1 1; do run l2sp l2spAlpha $v; done
for v in 0.1 0.3 1 3; do run spd spdLambda $v; done
for v in 0.01 0.1 1; do run digrap digrapLambda $v; done
for v in 0.3 1 3; do run fsr fsrWeight $v; done
