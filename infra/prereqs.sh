#!/usr/bin/env bash
# Install the system packages the project needs when they are missing (Debian/Ubuntu as root);
# elsewhere, name what to install and fail. Idempotent: does nothing when all are present.
# Usage: infra/prereqs.sh [--browser]   (--browser adds chromium + chromium-driver for tests)
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
java_ok=0
if command -v java >/dev/null 2>&1; then
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ "${major:-0}" -ge 17 ] && java_ok=1
fi
[ "$java_ok" = 1 ] || need+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
# LightGBM (model/, the handbook bench) loads the GNU OpenMP runtime; Debian's cargo brings it via gcc,
# a machine without a compiler does not have it.
ldconfig -p 2>/dev/null | grep -q 'libgomp\.so\.1' || need+=(libgomp1)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-venv)
# The bridge's native engine (native/, Rust via pyo3) needs cargo. Debian 12's own `cargo` is
# 1.63, too old for the locked crates; its `cargo-web` is current and installs /usr/bin/cargo.
# `make check` (CI) also runs clippy: rust-web-clippy matches cargo-web; a rustup toolchain adds it.
[ -d "$HOME/.cargo/bin" ] && PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
  if command -v apt-cache >/dev/null 2>&1 && apt-cache show cargo-web >/dev/null 2>&1; then
    need+=(cargo-web rust-web-clippy)
  else
    need+=(cargo)
  fi
elif ! cargo clippy --version >/dev/null 2>&1; then
  if command -v rustup >/dev/null 2>&1; then
    rustup component add clippy >&2
  elif command -v apt-cache >/dev/null 2>&1 && apt-cache show rust-web-clippy >/dev/null 2>&1; then
    need+=(rust-web-clippy)
  else
    need+=(rust-clippy)
  fi
fi
if [ "${1:-}" = "--browser" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
  # The font Chromium recommends (Arial metrics). The layout tests' "every cell whole" checks are
  # calibrated to it; with only DejaVu Sans (~11% wider) a timestamp overruns its column by ~18 px.
  # --no-install-recommends below would otherwise leave it out.
  fc-list 2>/dev/null | grep -qi 'Liberation Sans' || need+=(fonts-liberation)
fi
# `make test` validates docker-compose.yml with the Compose Specification's own loader (compose-go,
# infra/composecheck), which needs Go >= 1.24; Debian 12 ships 1.19. The Go module proxy serves
# official toolchains as modules (golang.org/toolchain), so fetch one from there when go is missing.
GO_TOOLCHAIN="${GO_TOOLCHAIN:-go1.26.8}"
GO_PREFIX="${GO_PREFIX:-/usr/local/go}"
[ -x "$GO_PREFIX/bin/go" ] && PATH="$GO_PREFIX/bin:$PATH"
if ! command -v go >/dev/null 2>&1; then
  arch=$(uname -m); case "$arch" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac
  mod="v0.0.1-${GO_TOOLCHAIN}.linux-${arch}"
  if [ "$(id -u)" = 0 ] && command -v curl >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
    echo "prereqs: installing Go ${GO_TOOLCHAIN} into ${GO_PREFIX} from the Go module proxy" >&2
    tmp=$(mktemp -d)
    curl -fsSL -o "$tmp/go.zip" "https://proxy.golang.org/golang.org/toolchain/@v/${mod}.zip"
    python3 -m zipfile -e "$tmp/go.zip" "$tmp/x"  # zipfile drops the execute bits: restored below
    rm -rf "$GO_PREFIX" && mkdir -p "$(dirname "$GO_PREFIX")"
    mv "$tmp/x/golang.org/toolchain@${mod}" "$GO_PREFIX"
    chmod -R a+x "$GO_PREFIX/bin" "$GO_PREFIX/pkg/tool"
    rm -rf "$tmp"
    [ "$GO_PREFIX" = /usr/local/go ] && ln -sf /usr/local/go/bin/go /usr/local/bin/go
  else
    echo "prereqs: Go >= 1.24 is missing (docker-compose.yml validation); install it and retry." >&2
    exit 1
  fi
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "prereqs: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts a system redis on :6379 after install; the project runs its own.
  if [[ " ${need[*]} " == *" redis-server "* ]]; then
    (systemctl disable --now redis-server 2>/dev/null || service redis-server stop 2>/dev/null || true) >/dev/null
  fi
else
  echo "prereqs: missing ${need[*]}. Install them with your package manager (Java must be 17+), then retry." >&2
  exit 1
fi
