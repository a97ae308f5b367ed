#!/usr/bin/env bash
# Builds dist/tensorshunt-VERSION-x86_64-linux.tar.xz: tsc and tsr with every shared library they
# load on this machine (the dynamic loader and glibc included) and wrappers that start them
# through the bundled loader. The archive runs on any x86-64 Linux machine without Bazel or the
# Debian packages; CUDA plans need an NVIDIA driver there (libcuda is dlopened from the
# machine), and `tsc compile --target cuda` needs NVRTC (the machine's CUDA toolkit, or
# TSC_NVRTC=/path/to/libnvrtc.so.13).
#   tools/release_archive.sh            # prints the archive's path and size
set -euo pipefail
cd "$(dirname "$0")/.."
bazel build -c opt //cli:tsc //cli:tsr >/dev/null 2>&1 || bazel build -c opt //cli:tsc //cli:tsr
version=$(bazel-bin/cli/tsc --version | awk '{print $NF}')
stage=$(mktemp -d)
root=$stage/tensorshunt-$version
mkdir -p "$root/bin" "$root/libexec" "$root/lib"
cp bazel-bin/cli/tsc bazel-bin/cli/tsr "$root/libexec/"
chmod u+w "$root/libexec/"*
for b in "$root/libexec/tsc" "$root/libexec/tsr"; do
  # Every library the loader resolves for the binary, and the loader itself.
  LD_LIBRARY_PATH=bazel-bin/_solib_k8 ldd "$b" | awk '/=>/ && $3 ~ /^\// {print $3} !/=>/ && $1 ~ /^\// {print $1}' |
    while read -r lib; do cp -Ln "$lib" "$root/lib/" 2>/dev/null || true; done
done
cp -L bazel-bin/_solib_k8/*.so "$root/lib/"
loader=$(basename "$(ldd bazel-bin/cli/tsr | awk '!/=>/ && $1 ~ /^\// {print $1}')")
for tool in tsc tsr; do
  cat > "$root/bin/$tool" <<WRAP
#!/bin/sh
# TensorShunt $tool, started through the libraries bundled beside it.
here=\$(dirname "\$(readlink -f "\$0")")/..
exec "\$here/lib/$loader" --library-path "\$here/lib" "\$here/libexec/$tool" "\$@"
WRAP
  chmod +x "$root/bin/$tool"
done
cp README.md "$root/"
mkdir -p dist
out=dist/tensorshunt-$version-x86_64-linux.tar.xz
tar -C "$stage" -cf - "tensorshunt-$version" | xz -T2 -6 > "$out"
rm -rf "$stage"
echo "$out $(du -h "$out" | cut -f1)"
