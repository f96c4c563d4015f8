# Helpers shared by the ci/ scripts.

# Each step says when it began (seconds since the first step of this process tree), so a CI log
# shows where the time goes.
: "${CI_T0:=$(date +%s)}"
export CI_T0
step() { printf '\n==> [%4d s] %s\n' "$(($(date +%s) - CI_T0))" "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "need root to run: $*" >&2; return 1; fi
}

apt_install() {
    local missing=()
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Python packages go into a virtual environment under target/ (CI_VENV to choose another),
# never into the system Python. It sees the system's site packages, so what the machine already
# has is used as is; python3 on PATH is the environment's from here on (child scripts too).
python_env() {
    local venv=${CI_VENV:-$PWD/target/ci-venv}
    if [ ! -x "$venv/bin/python3" ] && ! python3 -m venv --system-site-packages "$venv" >/dev/null; then
        echo "ci: cannot make a virtual environment at $venv (python3 -m venv); pip installs into the user's site instead" >&2
        PIP_USER=1
        return 0
    fi
    export VIRTUAL_ENV=$venv PATH="$venv/bin:$PATH"
}

# Names are import names; pip takes them too (it reads `_` as `-`: pytest_timeout).
pip_install() {
    local missing=()
    for p in "$@"; do python3 -c "import ${p%%=*}" 2>/dev/null || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    python3 -m pip install -q --disable-pip-version-check ${PIP_USER:+--user} "${missing[@]}"
}

ensure_deps() {
    # iproute2: `ss` shows a listening socket's backlog (test_connections.py).
    # prometheus-redis-exporter: test_exporter.py scrapes respd as a site's Prometheus would.
    # strace: counts the AOF's fsyncs (test_persist_aof.py, no-appendfsync-on-rewrite).
    apt_install redis-server redis-tools iproute2 prometheus-redis-exporter strace
    # openssl: the TLS tests make their certificates at run time (test_tls.py, client-tls).
    apt_install openssl
    # The respd-view browser tests (tests/python/test_view*.py): Debian's headless Chromium and
    # its WebDriver, driven by selenium.
    apt_install chromium chromium-driver
    # Its package starts a system exporter against localhost:6379; the tests start their own.
    if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus-redis-exporter 2>/dev/null; then
        as_root systemctl stop prometheus-redis-exporter || true
    fi
    # The distribution's redis-server service is not what the tests use: they start their own.
    if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
        as_root systemctl stop redis-server || true
    fi
    python_env
    pip_install redis numpy pytest pytest_timeout selenium
}
