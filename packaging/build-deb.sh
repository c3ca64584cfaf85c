#!/usr/bin/env bash
# Builds synack's .deb: the binary, then from it the man page and the shell
# completions (into target/packaging/, where Cargo.toml's
# [package.metadata.deb] assets take them from), then `cargo deb --no-build`.
# Needs cargo-deb (`cargo install cargo-deb --locked`) and dpkg-dev.
# Prints the .deb's path on its last line.
#
#   packaging/build-deb.sh                 the release binary (what to ship)
#   packaging/build-deb.sh --profile dev   the debug binary `cargo test`
#                                          built: CI's check of the packaging
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
if [[ ${1:-} == --profile && -n ${2:-} ]]; then
    profile=$2
elif (($#)); then
    echo "usage: $0 [--profile release|dev]" >&2
    exit 2
fi
if ! command -v cargo-deb >/dev/null; then
    echo "build-deb: cargo-deb is missing: cargo install cargo-deb --locked" >&2
    exit 1
fi

cargo build --profile "$profile" --locked >&2
target=$(cargo metadata --format-version 1 --no-deps | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
if [[ $profile == dev ]]; then
    bin=$target/debug/synack
else
    bin=$target/$profile/synack
fi

# cargo-deb reads the assets that are not built products relative to the
# package's root, whatever CARGO_TARGET_DIR says: always ./target/packaging.
out=target/packaging
rm -rf "$out"
mkdir -p "$out"
"$bin" man >"$out/synack.1"
"$bin" completions bash >"$out/synack.bash"
"$bin" completions zsh >"$out/_synack"
"$bin" completions fish >"$out/synack.fish"
for f in "$out"/*; do
    if [[ ! -s $f ]]; then
        echo "build-deb: $f is empty" >&2
        exit 1
    fi
done

# Stripped: the release profile keeps line tables (for profiling), which
# would make the installed binary 34 MB instead of 7.
cargo deb --no-build --locked --strip --profile "$profile"
