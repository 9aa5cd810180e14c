#!/usr/bin/env bash
# Creates development TLS material for bizrelayd in deploy/tls/ with the openssl CLI:
#   ca.pem, ca-key.pem           a private development CA
#   server.pem, server-key.pem   server certificate for localhost, bizrelay, bizrelay-1,
#                                bizrelay-2 and 127.0.0.1
#   client.pem, client-key.pem   client certificate for mutual TLS
#
# Usage: deploy/make-dev-certs.sh [--force]
#   Files that already exist are kept; a missing CA also renews the certificates it signs.
#   --force recreates everything.
#
# Development only: the CA key sits next to the certificates and nothing is revoked.
set -euo pipefail
umask 077  # keys are never world-readable while being written; modes are set at the end

usage() { sed -n '2,10s/^# \{0,1\}//p' "$0"; }

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "make-dev-certs.sh: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

command -v openssl >/dev/null || { echo "make-dev-certs.sh: openssl not found" >&2; exit 1; }

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tls"
mkdir -p "$dir"
chmod 0755 "$dir"
cd "$dir"

days_ca=1825
days_leaf=825

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Runs a command, showing its diagnostics only when it fails.
quiet() {
  "$@" 2>"$tmp/stderr" || { cat "$tmp/stderr" >&2; exit 1; }
}

# ECDSA P-256 keys in PKCS#8 PEM.
new_key() {
  quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
}

# Random positive 127-bit serial number, so that no serial file is needed.
serial() { printf '0x%s' "$(openssl rand -hex 16 | sed 's/^./7/')"; }

# sign NAME CN EXTENSIONS: key NAME-key.pem, certificate NAME.pem signed by the CA.
sign() {
  local name=$1 cn=$2 ext=$3
  new_key "$tmp/$name-key.pem"
  quiet openssl req -new -key "$tmp/$name-key.pem" -subj "/O=bizrelay development/CN=$cn" \
    -out "$tmp/$name.csr"
  printf '%s\n' "$ext" >"$tmp/$name.ext"
  quiet openssl x509 -req -in "$tmp/$name.csr" -CA ca.pem -CAkey ca-key.pem -set_serial "$(serial)" \
    -days "$days_leaf" -sha256 -extfile "$tmp/$name.ext" -out "$tmp/$name.pem"
  mv "$tmp/$name-key.pem" "$name-key.pem"
  mv "$tmp/$name.pem" "$name.pem"
  echo "make-dev-certs.sh: wrote $dir/$name.pem and $name-key.pem"
}

renew_leaves=$force
if [[ $force -eq 1 || ! -s ca.pem || ! -s ca-key.pem ]]; then
  new_key "$tmp/ca-key.pem"
  quiet openssl req -x509 -new -key "$tmp/ca-key.pem" -sha256 -days "$days_ca" \
    -set_serial "$(serial)" -subj "/O=bizrelay development/CN=bizrelay development CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$tmp/ca.pem"
  mv "$tmp/ca-key.pem" ca-key.pem
  mv "$tmp/ca.pem" ca.pem
  echo "make-dev-certs.sh: wrote $dir/ca.pem and ca-key.pem"
  renew_leaves=1
fi

common_ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"

if [[ $renew_leaves -eq 1 || ! -s server.pem || ! -s server-key.pem ]]; then
  sign server bizrelay "$common_ext
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:bizrelay,DNS:bizrelay-1,DNS:bizrelay-2,IP:127.0.0.1"
fi

if [[ $renew_leaves -eq 1 || ! -s client.pem || ! -s client-key.pem ]]; then
  sign client bizrelay-dev-client "$common_ext
extendedKeyUsage=clientAuth"
fi

# Permissions. docker-compose.yml bind-mounts ca.pem, server.pem and server-key.pem into the
# containers, and a bind mount keeps the host owner and mode. The container runs as uid 10001,
# which is not the owner of these files on the host, so server-key.pem has to be readable by
# "others" (0644) for the daemon to load it. That is acceptable for this throwaway development
# key only; in production give the key to uid 10001 with mode 0400 (or use the orchestrator's
# secret store). ca-key.pem and client-key.pem are never mounted and stay owner-only (0600).
chmod 0644 ca.pem server.pem client.pem server-key.pem
chmod 0600 ca-key.pem client-key.pem

openssl verify -CAfile ca.pem server.pem client.pem >/dev/null
echo "make-dev-certs.sh: TLS material in $dir is complete"
