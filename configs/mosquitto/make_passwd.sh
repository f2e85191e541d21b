#!/bin/sh
# Build mosquitto's password file for every user named in an ACL file.
#
#   BW_SECRETS_DIR=/run/secrets/mqtt configs/mosquitto/make_passwd.sh acl passwd
#
# The password of user NAME comes from the file $BW_SECRETS_DIR/NAME (a container or
# systemd secret, first line), or else from the environment variable
# BW_MQTT_PASSWORD_<NAME with every non-alphanumeric character as _, upper case>
# (e.g. tower-03 -> BW_MQTT_PASSWORD_TOWER_03). A user with neither is an error.
# Passwords never appear on a command line (mosquitto_passwd -U hashes a private
# temporary file in place); nothing here belongs in the repository.
set -eu

acl=${1:?usage: make_passwd.sh ACL_FILE PASSWD_FILE}
out=${2:?usage: make_passwd.sh ACL_FILE PASSWD_FILE}
secrets=${BW_SECRETS_DIR:-}

umask 077
tmp=$(mktemp "${out}.XXXXXX")
trap 'rm -f "$tmp"' EXIT INT TERM

missing=""
for user in $(awk '$1 == "user" {print $2}' "$acl"); do
    pw=""
    if [ -n "$secrets" ] && [ -f "$secrets/$user" ]; then
        pw=$(head -n 1 "$secrets/$user")
    else
        var="BW_MQTT_PASSWORD_$(printf '%s' "$user" | tr -c 'A-Za-z0-9' '_' | tr 'a-z' 'A-Z')"
        pw=$(printenv "$var" || true)
    fi
    if [ -z "$pw" ]; then
        missing="$missing $user"
        continue
    fi
    printf '%s:%s\n' "$user" "$pw" >> "$tmp"
done

if [ -n "$missing" ]; then
    echo "make_passwd: no password for:$missing (set \$BW_SECRETS_DIR/<user> or BW_MQTT_PASSWORD_<USER>)" >&2
    exit 2
fi

mosquitto_passwd -U "$tmp"
mv "$tmp" "$out"
trap - EXIT INT TERM
echo "make_passwd: wrote $(wc -l < "$out") users to $out" >&2
