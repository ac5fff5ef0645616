#!/usr/bin/env bash
# Device check: the optimizers' WebGPU suites (golden replay, fused WGSL kernels, guard) and the
# optimizer-step bench on a real GPU through Dawn's Vulkan backend, bundled (vitest shimmed).
cd "$(dirname "$0")/.."
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi -L; ldconfig -p | grep libvulkan | head -2; ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null
mkdir -p /tmp/w && xz -dc .gpuc/node.xz > /tmp/w/node && chmod +x /tmp/w/node && tar -xJf .gpuc/pack.tar.xz -C /tmp/w
N=/tmp/w/node; cd /tmp/w/b; export ROBUST_FT_GOLDEN_OPTIMIZERS=/tmp/w/golden
$N --version
t() { local name=$1; shift; local s=$(date +%s); timeout "$@" > "$OUT/$name.log" 2>&1; echo "== $name rc=$? $(( $(date +%s) - s )) s"; grep -E "suites run on Dawn|RESULT|FAIL|cases compared|SKIPPED" "$OUT/$name.log" | head -12; }
ROBUST_FT_TEST_BACKEND=webgpu t golden 150 $N golden-replay.mjs
t precheck 30 $N webgpu-precheck.mjs
t fused-webgpu 90 $N fused-webgpu.mjs
t fused-guard 150 $N fused-guard.mjs
t bench 150 $N bench-optimizers.mjs --backends webgpu --sets resnet18,vit --steps 41 --warmup 5
tail -40 "$OUT/bench.log"
