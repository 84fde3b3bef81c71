#!/usr/bin/env bash
# test_install.sh BUILD_DIR SOURCE_DIR WORK_DIR — install the build into a fresh prefix and check
# what a user of the installed tree gets:
#   - the files: headers, libmlff.so.0 (SONAME), libmlff_distill, the tool, the plugin under
#     lib/lammps/plugins, the CMake package and pkg-config files;
#   - libmlff needs no libxtb, and exports exactly the functions declared in mlff.h;
#   - libmlff_distill exports exactly the functions declared in mlff_distill.h;
#   - a downstream C program builds against it with find_package(mlff) and with pkg-config,
#     and runs (the shipped model, one benzene).
set -euo pipefail
build=$1 src=$2 work=$3
fail() { echo "test_install: FAIL: $*" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work"
P=$work/prefix
cmake --install "$build" --prefix "$P" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "cmake --install"; }
lib=$(ls -d "$P"/lib*/ | head -1); lib=${lib%/}
for f in include/mlff.h include/mlff_distill.h bin/mlff; do
  [ -e "$P/$f" ] || fail "$P/$f is not installed"
done
for f in libmlff.so.0 libmlff_distill.so.0 pkgconfig/mlff.pc pkgconfig/mlff_distill.pc \
         cmake/mlff/mlffConfig.cmake cmake/mlff/mlffConfigVersion.cmake; do
  [ -e "$lib/$f" ] || fail "$lib/$f is not installed"
done
if [ -e "$build/plugin/mlffplugin.so" ]; then
  [ -e "$lib/lammps/plugins/mlffplugin.so" ] || fail "the plugin is not under $lib/lammps/plugins"
fi
readelf -d "$lib/libmlff.so.0" | grep -q 'SONAME.*\[libmlff.so.0\]' || fail "libmlff has no SONAME libmlff.so.0"
if readelf -d "$lib/libmlff.so.0" | grep NEEDED | grep -qi xtb; then
  fail "libmlff.so.0 needs libxtb: $(readelf -d "$lib/libmlff.so.0" | grep -i xtb)"
fi
# exported functions against the declarations of the public header
exports_match() { # library header
  nm -D --defined-only "$1" | awk '$2 ~ /^[TWDBVR]$/ {print $3}' | sort -u >"$work/exported"
  # a declaration may wrap after its return type: join the lines first
  tr '\n' ' ' <"$2" | grep -oE 'MLFF_(DISTILL_)?API [^(;]*\bmlff_[a-z0-9_]+\(' |
    grep -oE 'mlff_[a-z0-9_]+\($' | tr -d '(' | sort -u >"$work/declared"
  if ! diff "$work/declared" "$work/exported" >"$work/diff"; then
    echo "exports of $1 differ from the declarations of $2 (< declared only, > exported only):" >&2
    cat "$work/diff" >&2
    fail "exports of $(basename "$1")"
  fi
  echo "test_install: $(basename "$1") exports the $(wc -l <"$work/exported") functions $(basename "$2") declares"
}
exports_match "$lib/libmlff.so.0" "$P/include/mlff.h"
exports_match "$lib/libmlff_distill.so.0" "$P/include/mlff_distill.h"
model=$src/models/benzene-gfn2.h5
# find_package(mlff)
cmake -S "$src/tests/install/downstream" -B "$work/ds" -D CMAKE_PREFIX_PATH="$P" >"$work/ds.log" 2>&1 ||
  { cat "$work/ds.log"; fail "find_package(mlff) did not configure"; }
cmake --build "$work/ds" >>"$work/ds.log" 2>&1 || { cat "$work/ds.log"; fail "the find_package build"; }
"$work/ds/downstream" "$model" || fail "the find_package program did not run"
# pkg-config
export PKG_CONFIG_PATH=$lib/pkgconfig
cc -std=c11 $(pkg-config --cflags mlff) "$src/tests/install/downstream/main.c" -o "$work/pc" \
  $(pkg-config --libs mlff) -Wl,-rpath,"$lib" -lm || fail "the pkg-config build"
"$work/pc" "$model" || fail "the pkg-config program did not run"
pkg-config --libs mlff_distill | grep -q -- -lmlff_distill || fail "mlff_distill.pc"
echo "test_install: PASS"
