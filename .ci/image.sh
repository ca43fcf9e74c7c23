#!/usr/bin/env bash
# CI: build the Dockerfile, run the image, and check what a user of it relies on:
#   - /feed.atom serves the shipped seed, with self links on TRIBUTARY_BASE_URL;
#   - `tributary healthcheck` passes inside the container (the image's HEALTHCHECK);
#   - SIGTERM stops it with exit code 0, well within the 10 s grace.
#
# No registry is reachable here, so the Dockerfile's base images are made locally, once per
# machine, under the names its FROM lines use: debian:bookworm-slim by debootstrap from this
# machine's apt mirror, and rust:1-slim-bookworm from it with this machine's Rust toolchain
# copied in. Podman (from Debian) builds and runs; the base images stay in its storage for the
# next run, the container, the image and its build layers are always removed.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
container=tributary-ci-$$
image=localhost/tributary:ci
base_url=http://feeds.example.test
# The image and its build's layers are removed too (about 2 GB a run would pile up on a
# machine that runs CI again); the two base images stay for the next run.
cleanup() {
    podman rm -f -t 0 "$container" >/dev/null 2>&1 || true
    podman rmi -f "$image" >/dev/null 2>&1 || true
    podman image prune -f >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "image check FAILED: $*" >&2
    if podman container exists "$container" 2>/dev/null; then
        echo "-- the container's log, last lines:" >&2
        podman logs "$container" 2>&1 | tail -20 >&2
    fi
    exit 1
}

missing=()
for tool in podman runc debootstrap curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# These machines give no CAP_SYS_RESOURCE (podman's default open-file limit cannot be set) and
# mix cgroup v1 and v2 (crun refuses): runc, with limits the host allows.
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
nproc=$(cat /proc/sys/kernel/pid_max)
cat > "$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF=$work/containers.conf

suite=bookworm
debian=localhost/debian:$suite-slim
rust=localhost/rust:1-slim-$suite
rust_version=$(rustc --version | awk '{print $2}')

# The deb822 or one-line source this machine's apt uses for $suite.
apt_mirror() {
    local file
    for file in /etc/apt/sources.list.d/*.sources; do
        [ -f "$file" ] || continue
        awk -v suite="$suite" 'BEGIN { RS = ""; FS = "\n" }
            { uri = ""; found = 0
              for (i = 1; i <= NF; i++) {
                  if ($i ~ /^URIs:/) { split($i, words, /[ \t]+/); uri = words[2] }
                  if ($i ~ /^Suites:/ && $i ~ ("(^|[ \t])" suite "([ \t]|$)")) found = 1
              }
              if (found && uri != "") { print uri; exit } }' "$file"
    done | head -n 1 | grep . && return
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }' | grep .
}

if ! podman image exists "$debian"; then
    echo "== base image $debian (debootstrap)"
    mirror=$(apt_mirror) || fail "no apt source for $suite on this machine to debootstrap from"
    debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap from $mirror"; }
    rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
    # This machine's own certificate authorities (its egress may intercept TLS): the Rust
    # image's ca-certificates takes them in, so cargo can reach crates.io from a build.
    mkdir -p "$work/rootfs/usr/local/share/ca-certificates"
    cp -r /usr/local/share/ca-certificates/. "$work/rootfs/usr/local/share/ca-certificates/" \
        2>/dev/null || true
    tar -C "$work/rootfs" -c . | podman import -q \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' - "$debian" >/dev/null
    rm -rf "$work/rootfs"
fi

if [ "$(podman image inspect -f '{{index .Labels "rust.version"}}' "$rust" 2>/dev/null)" != "$rust_version" ]; then
    echo "== base image $rust (this machine's Rust $rust_version)"
    toolchain=$(rustup default | awk '{print $1}')
    mkdir -p "$work/rust/rustup/toolchains" "$work/rust/cargo"
    cp -a "$(readlink -f "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$toolchain")" \
        "$work/rust/rustup/toolchains/$toolchain"
    rm -rf "$work/rust/rustup/toolchains/$toolchain/share/doc"
    cp "${RUSTUP_HOME:-$HOME/.rustup}/settings.toml" "$work/rust/rustup/"
    cp -a "${CARGO_HOME:-$HOME/.cargo}/bin" "$work/rust/cargo/"
    cat > "$work/rust/Containerfile" <<EOF
FROM $debian
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev \\
 && rm -rf /var/lib/apt/lists/*
COPY rustup /usr/local/rustup
COPY cargo /usr/local/cargo
RUN cargo --version
LABEL rust.version=$rust_version
EOF
    podman build -q --pull=never -t "$rust" "$work/rust" >"$work/rust.log" 2>&1 \
        || { tail -30 "$work/rust.log" >&2; fail "building the Rust base image"; }
    rm -rf "$work/rust"
fi

echo "== podman build (the Dockerfile as it is)"
started=$(date +%s)
podman build --format docker --pull=never -t "$image" . >"$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log" >&2; fail "the Dockerfile does not build (its log is above)"; }
echo "built in $(( $(date +%s) - started )) s: $(podman image inspect -f '{{.Size}}' "$image") bytes"
# Kept only in Docker's image format (podman's default, OCI, drops it).
case "$(podman image inspect -f '{{json .HealthCheck.Test}}' "$image")" in
    *'"/usr/local/bin/tributary","healthcheck"'*) ;;
    *) fail "the image declares no HEALTHCHECK running tributary healthcheck" ;;
esac

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Podman's complaints that it cannot schedule the HEALTHCHECK without systemd go to a log.
podman run -d --name "$container" -p "127.0.0.1:$port:8080" -e TRIBUTARY_BASE_URL="$base_url" \
    "$image" >/dev/null 2>"$work/run.log" || { cat "$work/run.log" >&2; fail "the image does not start"; }

# The shipped seed's first words, as its title begins.
seed_words=$(awk 'NR > 1 && NF { print $1, $2, $3, $4, $5; exit }' seeds/*.txt)
atom=
for _ in $(seq 1 150); do
    atom=$(curl -fs "http://127.0.0.1:$port/feed.atom" || true)
    case "$atom" in *"$seed_words"*) break ;; esac
    [ "$(podman inspect -f '{{.State.Running}}' "$container")" = true ] || fail "the container exited"
    sleep 0.2
done
case "$atom" in *"$seed_words"*) ;; *) fail "/feed.atom never served the shipped seed (\"$seed_words\")" ;; esac
case "$atom" in *"href=\"$base_url/feed.atom\""*) ;;
    *) fail "/feed.atom's self link is not on TRIBUTARY_BASE_URL=$base_url" ;; esac
echo "/feed.atom serves the shipped seed, self link on $base_url"

podman exec "$container" tributary healthcheck || fail "tributary healthcheck failed inside the container"
echo "tributary healthcheck passes inside the container"

started=$(date +%s.%N)
podman stop -t 10 "$container" >/dev/null 2>>"$work/run.log"
stopped_in=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
code=$(podman inspect -f '{{.State.ExitCode}}' "$container")
[ "$code" = 0 ] || fail "SIGTERM ended it with exit code $code"
awk -v s="$stopped_in" 'BEGIN { exit !(s < 9) }' || fail "SIGTERM took ${stopped_in}s: it was killed at the grace's end"
echo "SIGTERM: exit code 0 in ${stopped_in}s"
echo "image check passed"
