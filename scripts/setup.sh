# Sourced by the two entry scripts: installs what the project needs on a fresh
# machine, idempotently, and prints what it does on stderr.

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages the build and the tests use. Only missing ones are installed.
ensure_debian_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        echo "setup: installing Debian packages: ${missing[*]}" >&2
        local sudo=""
        [[ $(id -u) -eq 0 ]] || sudo="sudo"
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get update -qq >&2
        $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    fi
}

ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        echo "setup: cargo is missing; install the Rust toolchain (rustup) first" >&2
        exit 1
    fi
    # rustfmt and clippy come with the toolchain; add them when a minimal profile lacks them.
    if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
        rustup component add rustfmt clippy >&2
    fi
}

# One target dir shared by every build of the workspace.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo_root/target}"
