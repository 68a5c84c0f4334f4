#!/bin/sh
# make image: the executor-dind KRM function as a container image, built without any registry or dockerd.
#   tools/image/build.sh WHEEL OUTDIR
# A minimal Debian root filesystem (debootstrap --variant=minbase, from the Debian source apt uses here, the
# release this machine runs) with Debian's python3 and python3-yaml (PyYAML with libyaml's C loader), jsonpatch
# and jsonpointer from the index, and the wheel; a non-root user; trimmed of docs, man pages, locales and apt's
# lists. Writes OUTDIR/rootfs.tar and OUTDIR/executor-dind-<version>.docker.tar (a `docker load` archive:
# entrypoint the KRM function, user 65532, labels with the version and the sources). Needs root.
set -eu
wheel=$(realpath "${1:?usage: $0 WHEEL OUTDIR}")
out=$(realpath -m "${2:?usage: $0 WHEEL OUTDIR}")
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "$0: needs root (debootstrap, chroot)" >&2; exit 2; }
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "$0: installing Debian's debootstrap (apt-get)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap) >/dev/null
fi
. /etc/os-release
suite=$VERSION_CODENAME
# The Debian source apt uses: the first URI of the deb822 entry, or of the one-line entry, for this suite.
mirror=$(awk -v s="$suite" '/^URIs:/{u=$2} /^Suites:/{for(i=2;i<=NF;i++) if($i==s && u!=""){print u; exit}}' \
  /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk -v s="$suite" '$1=="deb" && $3==s {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "$0: no Debian source for $suite in apt's configuration" >&2; exit 2; }
version=$(python3 -c 'import sys, zipfile; n = zipfile.ZipFile(sys.argv[1]).namelist(); print(next(x for x in n if x.endswith(".dist-info/METADATA")).split("-")[1].split(".dist")[0])' "$wheel")

mkdir -p "$out/debs"
root="$out/rootfs"
rm -rf "$root"
debootstrap --variant=minbase --include=python3,python3-yaml --cache-dir="$out/debs" "$suite" "$root" "$mirror" \
  > "$out/debootstrap.log" 2>&1 || { tail -20 "$out/debootstrap.log" >&2; exit 1; }
site=$(chroot "$root" /usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_path("purelib", "posix_local"))')
site=${site:-/usr/local/lib/python3/dist-packages}
mkdir -p "$root$site"
# The wheel and its two pure-Python dependencies, unpacked (a wheel is a zip of its install tree).
rm -rf "$out/wheels" && mkdir -p "$out/wheels"
python3 -m pip download -q --no-deps --only-binary=:all: --dest "$out/wheels" 'jsonpatch>=1.33' 'jsonpointer>=1.9'
for w in "$wheel" "$out"/wheels/*.whl; do python3 -m zipfile -e "$w" "$root$site"; done
cat > "$root/usr/local/bin/executor-dind" <<'PY'
#!/usr/bin/python3 -sE
import sys

from executor_dind.cli import main

sys.exit(main())
PY
chmod 0755 "$root/usr/local/bin/executor-dind"
chroot "$root" /usr/bin/python3 -m compileall -q "$site" >/dev/null
echo "executor-dind:x:65532:65532:executor-dind:/nonexistent:/usr/sbin/nologin" >> "$root/etc/passwd"
echo "executor-dind:x:65532:" >> "$root/etc/group"
# Trim: nothing the function reads at run time.
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
  "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/var/cache/debconf/*-old \
  "$root"/usr/share/zoneinfo "$root"/usr/lib/x86_64-linux-gnu/gconv
py=$(chroot "$root" /usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
rm -rf "$root$py"/ensurepip "$root$py"/idlelib "$root$py"/pydoc_data "$root$py"/lib2to3 "$root$py"/tkinter \
  "$root$py"/turtledemo "$root$py"/unittest/test "$root$py"/distutils/tests
tar --numeric-owner --sort=name -C "$root" -cf "$out/rootfs.tar" .
revision=$(git -C "$here" rev-parse HEAD 2>/dev/null || echo unknown)
python3 "$here/docker_archive.py" "$out/rootfs.tar" "$out/executor-dind-$version.docker.tar" "$version" \
  "$revision" "debian:$suite (debootstrap --variant=minbase from $mirror)"
echo "$out/executor-dind-$version.docker.tar"
