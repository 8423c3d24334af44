#!/usr/bin/env bash
# Installs, starts, stops, upgrades and purges the Debian package on this
# machine: `scripts/deb-test.sh target/debian/gridsense_*.deb`. Needs root
# and dpkg; refuses to run if a gridsense package is installed already.
# systemd need not be PID 1: the service's command line is run as the
# `gridsense` user, the way the unit runs it (under a systemd host,
# `systemctl start gridsense` does the same). Leaves the machine as it was:
# the package purged, and the `gridsense` user removed if this script's
# install created it.
set -euo pipefail
deb=${1:?usage: deb-test.sh PACKAGE.deb}
if [ "$(id -u)" -ne 0 ] || ! command -v dpkg >/dev/null; then
    echo "deb-test: skipped (needs root and dpkg)"
    exit 0
fi
if dpkg-query -W -f='${Status}' gridsense 2>/dev/null | grep -q "installed"; then
    echo "deb-test: skipped (a gridsense package is installed on this machine)"
    exit 0
fi
had_user=0
getent passwd gridsense >/dev/null && had_user=1
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    dpkg --purge gridsense >/dev/null 2>&1 || true
    if [ "$had_user" = 0 ] && getent passwd gridsense >/dev/null; then
        deluser --system gridsense >/dev/null 2>&1 || userdel gridsense 2>/dev/null || true
    fi
}
trap cleanup EXIT
fail() { echo "deb-test: FAIL: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "deb-test: install"
dpkg -i "$deb" >/tmp/deb-test-install.log 2>&1 || { cat /tmp/deb-test-install.log; fail "dpkg -i"; }
id -nG gridsense | grep -qw dialout || fail "gridsense is not in dialout"
[ "$(stat -c '%U %a' /var/lib/gridsense)" = "gridsense 750" ] || fail "/var/lib/gridsense owner/mode: $(stat -c '%U %a' /var/lib/gridsense)"
pw=/var/lib/gridsense/gridsense.admin-password
[ "$(stat -c '%U %a' "$pw")" = "gridsense 600" ] || fail "$pw owner/mode: $(stat -c '%U %a' "$pw")"
secret=$(cat "$pw")
grep -q "$secret" /tmp/deb-test-install.log && fail "the admin password was printed during the install"
grep -q "$pw" /tmp/deb-test-install.log || fail "the install does not say where the admin password is"
[ "$(stat -c '%U:%G %a' /etc/gridsense/gridsense.toml)" = "root:gridsense 640" ] || fail "config owner/mode"
dpkg-query -W -f='${Conffiles}\n' gridsense | grep -q /etc/gridsense/gridsense.toml || fail "gridsense.toml is not a conffile"
[ -f /lib/systemd/system/gridsense.service ] || [ -f /usr/lib/systemd/system/gridsense.service ] || fail "no unit"

echo "deb-test: start and stop (as user gridsense, as the unit runs it)"
# The installer's edit: free loopback ports (this machine may run its own
# broker on 1883). An upgrade must keep it.
mqtt=$(free_port); api=$(free_port)
sed -i "s/^listen = \"0.0.0.0:1883\"/listen = \"127.0.0.1:$mqtt\"/; s/^listen = \"127.0.0.1:8080\"/listen = \"127.0.0.1:$api\"/" /etc/gridsense/gridsense.toml
runuser -u gridsense -- /usr/bin/gridsense doctor --config /etc/gridsense/gridsense.toml || true
runuser -u gridsense -- /usr/bin/gridsense check --config /etc/gridsense/gridsense.toml
# setpriv execs gridsense itself (no parent to pass SIGTERM through).
setpriv --reuid gridsense --regid gridsense --init-groups \
    /usr/bin/gridsense run --config /etc/gridsense/gridsense.toml >/tmp/deb-test-run.log 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$mqtt),1)" 2>/dev/null && break
    sleep 0.2
done
python3 -c "import socket; socket.create_connection(('127.0.0.1',$mqtt),1)" || { cat /tmp/deb-test-run.log; fail "not listening on $mqtt"; }
kill -TERM "$pid"; wait "$pid" || { cat /tmp/deb-test-run.log; fail "gridsense run did not stop cleanly"; }
pid=""
grep -q "$secret" /tmp/deb-test-run.log && fail "the admin password in the service log"
[ -s /var/lib/gridsense/gridsense.db ] || fail "no store"

echo "deb-test: upgrade (reinstall) keeps data and configuration"
sum=$(sha256sum "$pw")
dpkg -i "$deb" >/tmp/deb-test-upgrade.log 2>&1 || { cat /tmp/deb-test-upgrade.log; fail "dpkg -i (upgrade)"; }
grep -q "127.0.0.1:$mqtt" /etc/gridsense/gridsense.toml || fail "the upgrade replaced the edited configuration"
[ "$(sha256sum "$pw")" = "$sum" ] || fail "the upgrade made a new admin password"
[ -s /var/lib/gridsense/gridsense.db ] || fail "the upgrade lost the store"

echo "deb-test: remove keeps data, purge removes data and configuration"
dpkg --remove gridsense >/dev/null
[ -s /var/lib/gridsense/gridsense.db ] || fail "remove deleted the store"
dpkg --purge gridsense >/dev/null
[ ! -e /var/lib/gridsense ] || fail "purge left /var/lib/gridsense"
[ ! -e /etc/gridsense ] || fail "purge left /etc/gridsense"
echo "deb-test: ok"
