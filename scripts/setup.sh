#!/usr/bin/env bash
# setup.sh — install what mlff needs on a fresh Debian (bookworm) machine and build
# LAMMPS 4Feb2025 from Debian's source package (docs/pair_style.md). Idempotent: every step
# checks whether its result is already there. LAMMPS is cached outside the clone,
# keyed by version and options, so a second run costs seconds.
#
# Prints the LAMMPS prefix on the last line of stdout ("MLFF_LAMMPS_PREFIX=...").
set -euo pipefail

LAMMPS_DEB_VERSION=20250204+dfsg.1-2
LAMMPS_TARBALL=lammps_20250204+dfsg.1.orig.tar.xz
LAMMPS_SHA256=3671165bd52fad36734e0a9136c5bc5ecb225e03988f8c89aa13366a8b53b1c7
LAMMPS_CMAKE_OPTS=(-D PKG_PLUGIN=on -D PKG_MOLECULE=on -D PKG_MANYBODY=on -D PKG_REAXFF=on
  -D PKG_OPENMP=on -D BUILD_SHARED_LIBS=on -D LAMMPS_EXCEPTIONS=on -D BUILD_MPI=on
  -D BUILD_OMP=on -D CMAKE_BUILD_TYPE=Release -D LAMMPS_MACHINE=)
CACHE=${MLFF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlff}
mkdir -p "$CACHE"
KEY=$(printf '%s ' "$LAMMPS_DEB_VERSION" "${LAMMPS_CMAKE_OPTS[@]}" | sha256sum | cut -c1-12)
PREFIX=$CACHE/lammps-20250204-$KEY
SRC=$CACHE/src/lammps-20250204
JOBS=${MLFF_JOBS:-$(nproc)}

log() { printf '[setup] %s\n' "$*" >&2; }
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo

# 1. Debian packages. Checked by dpkg first so a warm machine never touches the network.
PKGS=(build-essential cmake pkg-config dpkg-dev xz-utils ca-certificates
  libhdf5-dev hdf5-tools libopenblas-dev libopenmpi-dev openmpi-bin
  python3 python3-numpy python3-h5py python3-matplotlib python3-ase valgrind packmol libxtb-dev xtb
  clang-format clang libclang-rt-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$CACHE.apt.log" 2>&1 ||
    { tail -20 "$CACHE.apt.log" >&2; exit 1; }
fi

# 2. LAMMPS source from Debian trixie's source package (bookworm's is a 2022 snapshot).
if [ ! -f "$PREFIX/.complete" ]; then
  mkdir -p "$CACHE/src"
  tarball=$CACHE/src/$LAMMPS_TARBALL
  if [ ! -f "$tarball" ] || ! echo "$LAMMPS_SHA256  $tarball" | sha256sum -c --status; then
    log "downloading LAMMPS source package $LAMMPS_DEB_VERSION (132 MB)"
    list=/etc/apt/sources.list.d/mlff-trixie-src.sources
    if [ ! -f $list ]; then
      printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' | $SUDO tee $list >/dev/null
      $SUDO apt-get update -qq >&2
    fi
    # apt answers 404 for the .dsc while the tarball arrives complete: trust the checksum,
    # not apt's exit code.
    (cd "$CACHE/src" && apt-get source --download-only "lammps=$LAMMPS_DEB_VERSION" >&2 || true)
    echo "$LAMMPS_SHA256  $tarball" | sha256sum -c --status || {
      echo "setup: LAMMPS tarball $tarball missing or its sha256 differs from $LAMMPS_SHA256" >&2; exit 1; }
  fi
  if [ ! -f "$SRC/cmake/CMakeLists.txt" ]; then
    log "unpacking LAMMPS source"
    rm -rf "$SRC.tmp" && mkdir -p "$SRC.tmp"
    tar -xJf "$tarball" -C "$SRC.tmp" --strip-components=1
    rm -rf "$SRC" && mv "$SRC.tmp" "$SRC"
  fi
  log "building LAMMPS with $JOBS jobs (about 5 minutes on 2 cores) into $PREFIX"
  bdir=$CACHE/build-$KEY
  rm -rf "$bdir"
  cmake -S "$SRC/cmake" -B "$bdir" -D CMAKE_INSTALL_PREFIX="$PREFIX" "${LAMMPS_CMAKE_OPTS[@]}" >"$CACHE/lammps-cmake.log" 2>&1 ||
    { tail -30 "$CACHE/lammps-cmake.log" >&2; exit 1; }
  cmake --build "$bdir" -j "$JOBS" >"$CACHE/lammps-build.log" 2>&1 ||
    { tail -30 "$CACHE/lammps-build.log" >&2; exit 1; }
  cmake --install "$bdir" >/dev/null
  # The plugin's build needs LAMMPS's headers for plugin code and the interface cmake file.
  mkdir -p "$PREFIX/share/mlff"
  cp "$SRC/examples/plugins/LAMMPSInterfaceCXX.cmake" "$PREFIX/share/mlff/"
  cp -r "$SRC/src" "$PREFIX/share/mlff/lammps-src" 2>/dev/null || true
  find "$PREFIX/share/mlff/lammps-src" -type f ! -name '*.h' -delete
  rm -rf "$bdir"
  touch "$PREFIX/.complete"
fi
log "LAMMPS ready: $PREFIX/bin/lmp"
echo "MLFF_LAMMPS_PREFIX=$PREFIX"
