#!/bin/sh
# Run the tests marked secret_service against a real, throwaway Secret Service: the
# credential store (test_credentials.py), `keys set/list/test/delete` end to end against the
# exchange emulators and the canary with the Secret Service store (test_keys_e2e.py).
#
# Needs: apt-get install -y gnome-keyring dbus-daemon dbus-x11
# Usage: tests/run_keyring_tests.sh [extra pytest args]   (PYTHON defaults to /work/venv/bin/python,
#        else python3). HOME is a temporary directory, so the user's keyring is never touched.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
if [ -z "${PYTHON:-}" ]; then
    if [ -x /work/venv/bin/python ]; then PYTHON=/work/venv/bin/python; else PYTHON=python3; fi
fi
for tool in dbus-run-session gnome-keyring-daemon; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "run_keyring_tests.sh: $tool not found; apt-get install -y gnome-keyring dbus-daemon dbus-x11" >&2
        exit 2
    }
done

tmp_home=$(mktemp -d)
trap 'rm -rf "$tmp_home"' EXIT INT TERM
export HOME="$tmp_home" XDG_DATA_HOME="$tmp_home/.local/share" XDG_CONFIG_HOME="$tmp_home/.config" \
    XDG_RUNTIME_DIR="$tmp_home/run" AITBC_DATA_DIR="$tmp_home/aitbc-data" PYTHON REPO="$repo"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
unset PYTHON_KEYRING_BACKEND AITBC_VAULT_PASSPHRASE
# The marked tests fail instead of skipping when the Secret Service is not reachable.
export AITBC_REQUIRE_SECRET_SERVICE=1

dbus-run-session -- sh -eu -c '
    # A throwaway login password creates and unlocks the "login" collection.
    eval "$(printf %s "throwaway-$$" | gnome-keyring-daemon --unlock --components=secrets)"
    export GNOME_KEYRING_CONTROL
    cd "$REPO"
    backend=$("$PYTHON" -c "from aitbc_tui.credentials import secure_keyring; print(type(secure_keyring()).__module__)")
    if [ "$backend" != "keyring.backends.SecretService" ]; then
        echo "run_keyring_tests.sh: the secure keyring is $backend, not SecretService" >&2
        exit 1
    fi
    "$PYTHON" -m pytest -m secret_service -rs "$@" tests/test_credentials.py tests/test_keys_e2e.py
' run_keyring_tests "$@"
