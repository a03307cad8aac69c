#!/usr/bin/env bash
# The portable engine bundle: TARGET/kvlab-engine-VERSION.tar.gz holding a jlink'd Java runtime, the
# engine's jars (no Spring, no CPU libtorch, tokenizers' natives for linux-x86_64 only) and
# bin/selfcheck, so a host with PyTorch but no Java can run the engine self-check:
#
#   tar xzf kvlab-engine-VERSION.tar.gz && cd kvlab-engine-VERSION
#   PYTORCH_LIBRARY_PATH=<torch>/lib PYTORCH_VERSION=<x.y.z> PYTORCH_FLAVOR=<cpu|cu128|...> bin/selfcheck MODEL_DIR
#
# usage: scripts/build-bundle.sh VERSION CLASSPATH [TARGET]
#   CLASSPATH  the engine's runtime classpath (':'-separated); the jars the engine needs are picked from it
#   TARGET     where the tarball goes [target/]
# `./mvnw -Pbundle package` calls it with the project's runtime classpath.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$1"
classpath="$2"
target="${3:-$root/target}"
name="kvlab-engine-$version"
work="$target/bundle"
out="$work/$name"
rm -rf "$work"
mkdir -p "$out/bin" "$out/lib"

# the engine's dependencies: DJL (api, PyTorch engine, tokenizers) and theirs, Jackson 3 for JSON, slf4j
engine_jar='^(api|pytorch-engine|tokenizers)-0\.|^(gson|jna|commons-compress|commons-io|commons-lang3|commons-codec|slf4j-api)-[0-9]|^jackson-(core|databind)-3\.|^jackson-annotations-2\.'
IFS=':' read -r -a entries <<< "$classpath"
for entry in "${entries[@]}"; do
    if [[ "$entry" == *.jar ]] && [[ "$(basename "$entry")" =~ $engine_jar ]]; then
        cp "$entry" "$out/lib/"
    fi
done
(cd "$root/target/classes" && jar --create --file "$out/lib/kvlab-engine-classes.jar" .)
for jar in "$out"/lib/tokenizers-*.jar; do # keep only the linux-x86_64 natives
    if command -v zip >/dev/null; then
        zip -q -d "$jar" 'native/lib/osx-*' 'native/lib/win-*' 'native/lib/linux-aarch64/*' >/dev/null 2>&1 || true
    fi
done

jlink --add-modules java.base,java.logging,java.management,jdk.management,jdk.unsupported \
    --strip-debug --no-header-files --no-man-pages --compress=2 --output "$out/runtime"

cat > "$out/bin/selfcheck" <<'LAUNCHER'
#!/bin/sh
# The engine self-check (dev.kvlab.check.SelfCheck) on this bundle's Java runtime, with the libtorch the
# environment points DJL at (PYTORCH_LIBRARY_PATH, PYTORCH_VERSION, PYTORCH_FLAVOR; the glue at
# <PYTORCH_LIBRARY_PATH>/libdjl_torch.so or DJL's cache). Arguments: MODEL_DIR [--device D] [--kv-limit B].
# Extra JVM options (e.g. -Djna.library.path=<the wheel's nvidia/cuda_runtime/lib>) go in JAVA_OPTS.
here="$(cd "$(dirname "$0")/.." && pwd)"
export DJL_OFFLINE="${DJL_OFFLINE:-true}" OPT_OUT_TRACKING="${OPT_OUT_TRACKING:-true}" RUST_FLAVOR="${RUST_FLAVOR:-cpu}"
exec "$here/runtime/bin/java" -Xmx4g $JAVA_OPTS -cp "$here/lib/*" dev.kvlab.check.SelfCheck "$@"
LAUNCHER
chmod +x "$out/bin/selfcheck"

tar -C "$work" -czf "$target/$name.tar.gz" "$name"
echo "$target/$name.tar.gz: $(du -h "$target/$name.tar.gz" | cut -f1)"
