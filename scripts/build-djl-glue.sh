#!/usr/bin/env bash
# Compiles DJL 0.36's PyTorch JNI glue (libdjl_torch.so) against the PyTorch installed for PYTHON, for
# hosts whose PyTorch is not the 2.7.1 DJL ships glue for (e.g. torch 2.11 + CUDA 13), then prints the
# environment that points kvlab's engine at it. Needs cmake, a C++ compiler and, for CUDA, nvcc; no Java.
#
#   scripts/build-djl-glue.sh KIT [PYTHON=python3] [OUT=$PWD/djl-glue]
#
# KIT is DJL's native sources for the glue, unpacked or as the .tgz (DJL v0.36.0's
# engines/pytorch/pytorch-native, api/src/main/native/djl/utils.h, the JNI header generated from
# PyTorchLibrary.java, and jni.h / jni_md.h under jni-include/). The glue lands in
# OUT/pytorch/<torch version>-<flavor>-linux-x86_64/0.36.0-libdjl_torch.so, DJL's cache layout.
# Known trouble with newer libtorch: the legacy profiler calls in *_system.cc, the c10::optional
# aliases, and headers that need C++20 (set CXX_STANDARD 20 in the kit's CMakeLists.txt).
set -euo pipefail
kit="$1"
python="${2:-python3}"
out="${3:-$PWD/djl-glue}"
if [[ -f "$kit" ]]; then
    unpacked="$(mktemp -d)"
    tar -xzf "$kit" -C "$unpacked"
    kit="$unpacked"
fi
native="$kit/engines/pytorch/pytorch-native"
[[ -f "$native/CMakeLists.txt" ]] || { echo "no $native/CMakeLists.txt: is $kit DJL's glue kit?" >&2; exit 2; }

IFS='|' read -r torch_version cuda prefix libdir < <("$python" - <<'PY'
import os, torch
print("|".join([torch.__version__.split("+")[0], torch.version.cuda or "", torch.utils.cmake_prefix_path,
                os.path.join(os.path.dirname(torch.__file__), "lib")]))
PY
)
if [[ -n "$cuda" ]]; then
    flavor="cu$(echo "$cuda" | tr -d . | cut -c1-3)"
    use_cuda=1
else
    flavor="cpu"
    use_cuda=0
fi
echo "torch $torch_version ($flavor) at $libdir" >&2

# -B must be <pytorch-native>/build: the generated header is looked up there. DJL sets no optimisation level.
cmake -S "$native" -B "$native/build" -DCMAKE_BUILD_TYPE=Release -DUSE_CUDA="$use_cuda" \
    -DCMAKE_PREFIX_PATH="$prefix" -DJAVA_INCLUDE_PATH="$kit/jni-include" \
    -DJAVA_INCLUDE_PATH2="$kit/jni-include/linux" -DJAVA_JVM_LIBRARY=NotNeeded \
    $(command -v ninja >/dev/null && echo -G Ninja) >&2
cmake --build "$native/build" -j"$(nproc)" >&2

cache="$out/pytorch/$torch_version-$flavor-linux-x86_64"
mkdir -p "$cache"
cp "$native/build/libdjl_torch.so" "$cache/0.36.0-libdjl_torch.so"
cuda_runtime="$("$python" -c 'import glob, os, torch; d = os.path.dirname(os.path.dirname(torch.__file__)); print(next(iter(sorted(glob.glob(os.path.join(d, "nvidia", "cuda_runtime", "lib")))), ""))')"
cat <<ENV
export PYTORCH_LIBRARY_PATH=$libdir PYTORCH_VERSION=$torch_version PYTORCH_FLAVOR=$flavor DJL_CACHE_DIR=$out
export DJL_OFFLINE=true OPT_OUT_TRACKING=true RUST_FLAVOR=cpu
ENV
if [[ -n "$cuda_runtime" ]]; then
    echo "export JAVA_OPTS=\"-Djna.library.path=$cuda_runtime\"  # DJL finds the GPU through JNA's libcudart"
fi
