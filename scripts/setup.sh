#!/usr/bin/env bash
# Builds what rathausbot needs, idempotently: the gateway venv (.venv, Python 3.11), the
# Rasa venv (.venv-rasa, Python 3.10) and, with --test, the Debian tools the tests use.
# Each step is skipped when its inputs did not change since it last succeeded.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="run"
[[ "${1:-}" == "--test" ]] && profile="test"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf '\033[31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }

# find_python VERSION: prints the path of a python VERSION interpreter (pyenv first).
find_python() {
    local version="$1" root candidate best=""
    root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
    for candidate in "$root"/versions/"$version".*/bin/python"$version"; do
        [[ -x "$candidate" ]] && best="$candidate"  # glob order: the last is the newest patch
    done
    if [[ -z "$best" ]] && command -v "python$version" >/dev/null 2>&1; then
        best="$(command -v "python$version")"
    fi
    [[ -n "$best" ]] || fail "Python $version not found (looked in $root/versions and PATH).
       Install it with:  pyenv install $version   (or your distribution's python$version package)"
    echo "$best"
}

# venv_current DIR STAMP_NAME HASH: true when DIR was built from inputs hashing to HASH.
venv_current() { [[ -x "$1/bin/python" && -f "$1/.stamp-$2" && "$(cat "$1/.stamp-$2")" == "$3" ]]; }

hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# --- gateway: .venv (Python 3.11) -------------------------------------------------------
gateway_hash="$(hash_of pyproject.toml)"
if venv_current .venv "$profile" "$gateway_hash"; then
    say "Gateway environment .venv is up to date ($profile)"
else
    py311="$(find_python 3.11)"
    if [[ ! -x .venv/bin/python ]]; then
        say "Creating the gateway environment .venv with $py311"
        "$py311" -m venv .venv
    fi
    extras=""
    [[ "$profile" == "test" ]] && extras="[test]"
    say "Installing rathausbot$extras and its dependencies into .venv"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --progress-bar on -e ".$extras"
    echo "$gateway_hash" > ".venv/.stamp-$profile"
    [[ "$profile" == "test" ]] && echo "$gateway_hash" > .venv/.stamp-run
fi

# --- Rasa: .venv-rasa (Python 3.10) -----------------------------------------------------
rasa_hash="$(hash_of intents/requirements.txt)"
if venv_current .venv-rasa rasa "$rasa_hash"; then
    say "Rasa environment .venv-rasa is up to date"
else
    py310="$(find_python 3.10)"
    if [[ ! -x .venv-rasa/bin/python ]]; then
        say "Creating the Rasa environment .venv-rasa with $py310"
        "$py310" -m venv .venv-rasa
    fi
    say "Installing Rasa 3.6 into .venv-rasa (first time: about 1 GB, several minutes)"
    .venv-rasa/bin/python -m pip install --quiet --upgrade pip
    .venv-rasa/bin/python -m pip install --progress-bar on --no-deps -r intents/requirements.txt
    .venv-rasa/bin/python -m pip check >/dev/null || fail "the Rasa environment is inconsistent: .venv-rasa/bin/python -m pip check"
    echo "$rasa_hash" > .venv-rasa/.stamp-rasa
fi

# --- the shared contract package in .venv-rasa -------------------------------------------
# The gateway's install (pyproject.toml) holds `contract`; the Rasa environment (whose Python
# the gateway's package does not support) imports it from this checkout through a .pth file
# naming the checkout. Checked on every run, so a moved checkout is picked up.
rasa_site="$(.venv-rasa/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
contract_pth="$rasa_site/rathausbot-contract.pth"
if [[ "$(cat "$contract_pth" 2>/dev/null)" != "$PWD" ]]; then
    say "Making the shared contract package importable in .venv-rasa"
    echo "$PWD" > "$contract_pth"
fi
root="$PWD"
(cd / && "$root/.venv-rasa/bin/python" -c "import contract.payloads, contract.town") \
    || fail "the Rasa environment cannot import the contract package (see $contract_pth)"

# --- Debian tools for the tests ---------------------------------------------------------
if [[ "$profile" == "test" ]]; then
    test_packages=(espeak-ng sox baresip sip-tester chromium coturn prometheus kamailio docker-compose)
    missing=()
    for pkg in "${test_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        say "Test tools are installed (${test_packages[*]})"
    else
        sudo=""
        [[ "$(id -u)" == 0 ]] || sudo="sudo"
        say "Installing test tools from Debian: ${missing[*]}"
        $sudo apt-get update -q
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
fi
# --- human German words for the voice smoke test: the German voices of Debian's kajongg ---
# Only the package's files are unpacked into var/speech/kajongg (apt-get download, dpkg-deb
# -x); its Qt dependencies are not installed. Test-only; tests skip when it is missing.
if [[ "$profile" == "test" ]]; then
    words_dir="var/speech/kajongg"
    if [[ -d "$words_dir/usr/share/kajongg/voices/de" || -d /usr/share/kajongg/voices/de ]]; then
        say "German test words (kajongg's voices) are in place"
    else
        say "Fetching the German voices of the Debian package kajongg (about 5 MB, files only)"
        deb_tmp="$(mktemp -d)"
        chmod 0755 "$deb_tmp"
        if (cd "$deb_tmp" && apt-get download -q kajongg >/dev/null 2>&1); then
            mkdir -p "$words_dir"
            dpkg-deb -x "$deb_tmp"/kajongg_*.deb "$words_dir"
        else
            say "  kajongg could not be downloaded (no network?); the word-level voice test will skip"
        fi
        rm -rf "$deb_tmp"
    fi
fi
# --- browser tests: playwright-core and axe-core from npm (no browser download) -----------
if [[ "$profile" == "test" ]]; then
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        sudo=""
        [[ "$(id -u)" == 0 ]] || sudo="sudo"
        say "Installing Node.js and npm from Debian"
        $sudo apt-get update -q
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends nodejs npm
    fi
    npm_hash="$(hash_of package.json package-lock.json)"
    if [[ -f node_modules/.stamp-npm && "$(cat node_modules/.stamp-npm)" == "$npm_hash" ]]; then
        say "Browser test packages (node_modules) are up to date"
    else
        say "Installing the browser test packages from package-lock.json (npm ci)"
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
        echo "$npm_hash" > node_modules/.stamp-npm
    fi
fi
say "Setup complete ($profile)"
