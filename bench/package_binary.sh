#!/bin/bash
# Copies a built binary (default build/release/apps/mad) and every shared library it loads, the loader
# included, into DIR with a wrapper DIR/mad.sh, so that it runs on a Linux x86-64 machine that lacks
# Debian 12's packages (a cluster node, a lent GPU machine) without installing anything there.
#
# Usage: bench/package_binary.sh DIR [BINARY]
#   DIR/mad.sh ARGS...   runs the binary with its own loader and libraries (its glibc too, so no clash with
#                        an older or newer system glibc; the machine's own tools are not affected)
set -euo pipefail
[[ $# -ge 1 ]] || { sed -n 2,9p "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
dir=$1 bin=${2:-build/release/apps/mad}
[[ -x $bin ]] || { echo "package_binary.sh: $bin not found; build it with scripts/build.sh release" >&2; exit 2; }
mkdir -p "$dir/lib"
cp "$bin" "$dir/"
name=$(basename "$bin")
# ldd prints "libX.so => /path (addr)" for libraries and "/lib64/ld-linux-x86-64.so.2 (addr)" for the loader.
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do
  cp -L "$lib" "$dir/lib/"
done
loader=$(cd "$dir/lib" && ls ld-linux-*.so.* | head -1)
cat > "$dir/$name.sh" <<SH
#!/bin/bash
d=\$(dirname "\$(realpath "\$0")")
exec "\$d/lib/$loader" --library-path "\$d/lib" "\$d/$name" "\$@"
SH
chmod +x "$dir/$name.sh"
echo "$dir/$name.sh ($(du -sh "$dir" | cut -f1))"
