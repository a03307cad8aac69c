#!/usr/bin/env bash
# The engine self-check on a host that has PyTorch (CPU or CUDA) but no Java, in one command: compiles
# DJL's glue against that PyTorch (scripts/build-djl-glue.sh), unpacks the engine bundle
# (`./mvnw -Pbundle package`) and runs its bin/selfcheck on a model folder. Everything it prints goes to
# OUT: nvidia-smi before and after, the glue build log, the environment it used, the self-check's log
# and its JSON report (the last line of selfcheck.out). Exits with the self-check's status.
#
#   scripts/device-check.sh BUNDLE.tar.gz KIT [MODEL_DIR=models/kvlab-tiny] [PYTHON=python3]
#
# OUT defaults to $OUT (the device machine's result folder), else ./device-check.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$1"
kit="$2"
model="${3:-$root/models/kvlab-tiny}"
python="${4:-python3}"
out="${OUT:-$PWD/device-check}"
mkdir -p "$out"

(nvidia-smi || echo "no nvidia-smi") > "$out/nvidia-smi-before.txt" 2>&1
"$python" -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())' \
    > "$out/torch.txt" 2>&1 || true

start=$(date +%s)
"$root/scripts/build-djl-glue.sh" "$kit" "$python" "$out/djl-glue" > "$out/glue.env" 2> "$out/glue-build.log"
echo "glue built in $(( $(date +%s) - start )) s" >> "$out/glue-build.log"
# shellcheck disable=SC1091
source "$out/glue.env"

unpacked="$(mktemp -d)"
tar -xzf "$bundle" -C "$unpacked"
selfcheck="$(ls "$unpacked"/*/bin/selfcheck)"
env | grep -E '^(PYTORCH_|DJL_|JAVA_OPTS|RUST_FLAVOR|OPT_OUT)' | sort > "$out/env.txt"

status=0
"$selfcheck" "$model" > "$out/selfcheck.out" 2> "$out/selfcheck.log" || status=$?
(nvidia-smi || echo "no nvidia-smi") > "$out/nvidia-smi-after.txt" 2>&1
echo "self-check exit status $status; report:"
tail -n 1 "$out/selfcheck.out"
exit "$status"
