#!/usr/bin/env bash
# Runs docker-compose.yml for real and checks it through its published ports.
#
#   deploy/compose-check.sh        (as root; `./dev test` runs it as the ctest entry compose_check)
#
# What it does, stopping by itself on the first failure (every step has a timeout):
#  1. installs docker.io, docker-compose (and debootstrap, when needed) if missing, and starts
#     dockerd (storage driver overlay2) if none runs;
#  2. base image: BIZRELAY_BASE_IMAGE (default debian:12-slim) if present or pullable, else a
#     local one made with `debootstrap --variant=minbase bookworm` from this machine's Debian
#     mirror (read from /etc/apt/sources.list*) and `docker import`;
#  3. PostgreSQL: POSTGRES_IMAGE (default postgres:15-bookworm) if present or pullable, else the
#     stand-in built from deploy/postgres-standin on that base;
#  4. makes the development TLS material and secrets under deploy/ that are missing, then
#     `docker-compose up -d --build` under its own project name (COMPOSE_CHECK_PROJECT);
#  5. checks: health of both replicas' public, personal and operator ports over TLS; their
#     metrics listeners (host loopback 7003/7013) report the database up; a business
#     created through replica 1 and read through replica 2; a user's message sent to replica 1
#     streamed by the business from replica 2; each path's database role refused the other
#     path's schema; `stop` then `up` keeps the data; stopping a replica drains it within its
#     grace period; `down -v` leaves no container, network or volume behind.
# On exit, whatever the outcome, it takes down what it brought up and stops the dockerd it
# started; images stay, so the next run builds from the cache. It prints image sizes and
# timings, and ends with "compose-check: N passed, N failed".
#
# Needs the host build (bizrelay CLI and bizrelayd as health client): BUILD_DIR, default ./build.
# Environment: BIZRELAY_COMPOSE_CHECK=0 skips (exit 77, which ctest reports as skipped).
set -Eeuo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
project=${COMPOSE_CHECK_PROJECT:-bizrelaycheck}
build_dir=${BUILD_DIR:-$root/build}
cli=$build_dir/services/cli/bizrelay
health=("$build_dir/services/bizrelayd/bizrelayd" health --ca-file "$root/deploy/tls/ca.pem")
local_base=bizrelay-local/debian:bookworm-minbase
local_postgres=bizrelay-local/postgres:15-bookworm
# The replicas' stop_grace_period in docker-compose.yml.
grace_s=15

t0=$SECONDS
passed=0
failed=0
started_dockerd=""
compose_up=""
bg_pids=()
timings=()

log() { printf 'compose-check [%4ds] %s\n' $((SECONDS - t0)) "$*" | tee -a "${report:-/dev/null}"; }
pass() { passed=$((passed + 1)); log "PASS $*"; }
fail() { failed=$((failed + 1)); log "FAIL $*"; exit 1; }
timed() {  # timed NAME SECONDS: remembers a phase's duration for the summary
  timings+=("$1 ${2}s")
}

if [ "${BIZRELAY_COMPOSE_CHECK:-1}" = 0 ]; then
  echo "compose-check: skipped (BIZRELAY_COMPOSE_CHECK=0)"
  exit 77
fi

# One check at a time on a machine: two would share ports, and one could stop the dockerd
# the other uses.
exec 9>/tmp/bizrelay-compose-check.lock
if ! flock -n 9; then
  echo "compose-check: waiting for another compose check on this machine to finish"
  flock -w 3000 9 || { echo "compose-check: still locked after 50 minutes" >&2; exit 1; }
fi

state=$(mktemp -d /tmp/bizrelay-compose-check.XXXXXX)
# The report (every line of log()) is kept in the build directory for ./dev test to show.
report=$build_dir/compose-check.log
: >"$report" 2>/dev/null || report=/dev/null

compose() {
  # docker-compose 1.29 reads the variables below from this environment.
  timeout "${COMPOSE_TIMEOUT:-180}" env COMPOSE_DOCKER_CLI_BUILD=0 docker-compose --ansi never -p "$project" \
    -f "$root/docker-compose.yml" "$@"
}

cleanup() {
  local rc=$?
  set +e
  for pid in "${bg_pids[@]}"; do kill "$pid" 2>/dev/null; done
  if [ -n "$compose_up" ]; then
    if [ "$rc" != 0 ]; then
      log "last log lines of the stack:"
      COMPOSE_TIMEOUT=60 compose logs --no-color --tail 40 2>&1 | sed 's/^/  /'
    fi
    COMPOSE_TIMEOUT=120 compose down -v --remove-orphans --timeout 20 >"$state/down.log" 2>&1 ||
      cat "$state/down.log"
  fi
  if [ -n "$started_dockerd" ]; then
    log "stopping the dockerd this check started (pid $started_dockerd)"
    kill -TERM "$started_dockerd" 2>/dev/null
    for _ in $(seq 60); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$started_dockerd" 2>/dev/null
    wait "$started_dockerd" 2>/dev/null
    if docker_ok; then log "WARNING: a Docker engine still answers after stopping dockerd"; fi
  fi
  if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
  rm -rf "$state"
  echo "compose-check: $passed passed, $failed failed" | tee -a "$report"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

apt_updated=""
apt_install() {
  log "installing Debian packages: $*"
  if [ -z "$apt_updated" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq \
    --no-install-recommends "$@" >"$state/apt.log" 2>&1 || { cat "$state/apt.log"; exit 1; }
}

docker_ok() { timeout 20 docker info >/dev/null 2>&1; }

# --- 1. Docker engine and compose client -------------------------------------------------
phase=$SECONDS
for tool in "$cli" "${health[0]}"; do
  [ -x "$tool" ] || fail "$tool is missing: build first (./dev build)"
done
if [ "$(id -u)" != 0 ] && ! sudo -n true 2>/dev/null && ! docker_ok; then
  echo "compose-check: skipped: needs root (or a running Docker engine) to install and start Docker"
  exit 77
fi
missing=()
command -v docker-compose >/dev/null || missing+=(docker-compose)
if ! docker_ok && ! command -v dockerd >/dev/null; then missing+=(docker.io); fi
command -v docker >/dev/null || missing+=(docker.io)
if [ ${#missing[@]} -gt 0 ]; then apt_install $(printf '%s\n' "${missing[@]}" | sort -u); fi
if ! docker_ok; then
  log "no Docker engine answers: starting dockerd (storage driver overlay2)"
  # A plain command, not a function, in the background: $! is then dockerd itself (or sudo,
  # which passes SIGTERM on), the process that cleanup stops.
  dockerd_cmd=(dockerd --storage-driver overlay2 --pidfile "$state/dockerd.pid")
  [ "$(id -u)" = 0 ] || dockerd_cmd=(sudo -n "${dockerd_cmd[@]}")
  "${dockerd_cmd[@]}" >"$state/dockerd.log" 2>&1 9>&- &
  started_dockerd=$!
  for _ in $(seq 60); do docker_ok && break; sleep 1; done
  docker_ok || { tail -20 "$state/dockerd.log"; fail "dockerd did not answer within 60 s"; }
fi
log "$(docker version --format 'Docker engine {{.Server.Version}}'), $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')"
timed engine $((SECONDS - phase))

# --- 2. Base image -----------------------------------------------------------------------
have_image() { timeout 30 docker image inspect "$1" >/dev/null 2>&1; }
pull_image() { log "pulling $1"; timeout 300 docker pull -q "$1" >/dev/null 2>&1; }

# apt_mirror SUITE: the URI of the first enabled Debian source of this machine that carries
# SUITE, in one-line (.list) or deb822 (.sources) format.
apt_mirror() {
  local suite=$1 f
  {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      awk -v s="$suite" '$1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i + 1) == s) print $i }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" }
        { types = ""; uris = ""; suites = ""; enabled = "yes"
          for (i = 1; i <= NF; i++) {
            if ($i ~ /^#/ || $i !~ /:/) continue
            key = tolower(substr($i, 1, index($i, ":") - 1))
            val = substr($i, index($i, ":") + 1); gsub(/^[ \t]+|[ \t]+$/, "", val)
            if (key == "types") types = val; else if (key == "uris") uris = val
            else if (key == "suites") suites = val; else if (key == "enabled") enabled = tolower(val)
          }
          if (enabled == "no" || (" " types " ") !~ / deb /) next
          if ((" " suites " ") ~ (" " s " ")) { split(uris, u, " "); print u[1] } }' "$f"
    done
  } | sed -n 1p # reads to the end: head would leave the writers to SIGPIPE under pipefail
}

make_base_image() {
  local mirror security updates rootfs=$state/rootfs
  mirror=$(apt_mirror bookworm)
  [ -n "$mirror" ] || fail "no Debian bookworm source in /etc/apt/sources.list*"
  security=$(apt_mirror bookworm-security)
  updates=$(apt_mirror bookworm-updates)
  command -v debootstrap >/dev/null || apt_install debootstrap
  log "debootstrap --variant=minbase bookworm from $mirror"
  timeout 1200 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" \
    >"$state/debootstrap.log" 2>&1 || { tail -20 "$state/debootstrap.log"; fail "debootstrap"; }
  # The same sources and fetch settings as this machine (a snapshot mirror needs
  # Check-Valid-Until off, a proxy must be kept), and the slimming of Debian's own images.
  rm -f "$rootfs/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: bookworm%s\nComponents: main\n' "$mirror" \
      "${updates:+ bookworm-updates}"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [ -n "$security" ]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\n' "$security"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } >"$rootfs/etc/apt/sources.list.d/debian.sources"
  cat /etc/apt/apt.conf /etc/apt/apt.conf.d/* 2>/dev/null |
    grep -E '^[[:space:]]*Acquire::(Check-Valid-Until|Check-Date|https?::Proxy|Retries)' \
      >"$rootfs/etc/apt/apt.conf.d/90host-mirror" || true
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
EOF
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$rootfs"/usr/share/{man,info,locale}/* "$rootfs"/var/cache/apt/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
  log "docker import as $local_base"
  tar -C "$rootfs" --numeric-owner -c . |
    timeout 300 docker import -c 'CMD ["bash"]' - "$local_base" >/dev/null
  rm -rf "$rootfs"
}

phase=$SECONDS
base=${BIZRELAY_BASE_IMAGE:-debian:12-slim}
if ! have_image "$base" && ! pull_image "$base"; then
  log "$base cannot be had from a registry: using $local_base"
  base=$local_base
  have_image "$base" || make_base_image
fi
export BIZRELAY_BASE_IMAGE=$base
timed base_image $((SECONDS - phase))

# --- 3. PostgreSQL image -----------------------------------------------------------------
phase=$SECONDS
postgres=${POSTGRES_IMAGE:-postgres:15-bookworm}
if ! have_image "$postgres" && ! pull_image "$postgres"; then
  log "$postgres cannot be had from a registry: building the stand-in $local_postgres"
  postgres=$local_postgres
  timeout 900 docker build -q --build-arg BASE_IMAGE="$base" -t "$postgres" \
    "$root/deploy/postgres-standin" >"$state/pg-build.log" 2>&1 ||
    { tail -30 "$state/pg-build.log"; fail "building $postgres"; }
fi
export POSTGRES_IMAGE=$postgres
timed postgres_image $((SECONDS - phase))

# --- 4. Secrets and the stack ------------------------------------------------------------
"$root/deploy/make-dev-certs.sh" >/dev/null
(
  umask 022
  [ -s deploy/operator.token ] || openssl rand -hex 32 >deploy/operator.token
  [ -s deploy/master.key ] || openssl rand -hex 32 >deploy/master.key
  [ -s deploy/token_issuer.pem ] ||
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out deploy/token_issuer.pem 2>/dev/null
)
chmod 0644 deploy/operator.token deploy/master.key deploy/token_issuer.pem

compose_up=1
COMPOSE_TIMEOUT=120 compose down -v --remove-orphans >/dev/null 2>&1 || true  # an earlier, aborted run
for port in 7000 7001 7002 7003 7010 7011 7012 7013; do
  if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
    fail "port $port is already in use on this machine"
  fi
done

phase=$SECONDS
log "building the replicas' image (deploy/Dockerfile, -j2)"
COMPOSE_TIMEOUT=2700 compose build --force-rm >"$state/build.log" 2>&1 ||
  { tail -40 "$state/build.log"; fail "docker-compose build"; }
timed replica_image_build $((SECONDS - phase))

# wait_healthy SECONDS SERVICE...: until docker reports each service's container healthy.
wait_healthy() {
  local deadline=$((SECONDS + $1)) svc id status
  shift
  for svc in "$@"; do
    while :; do
      id=$(compose ps -q "$svc")
      status=$(timeout 20 docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null || true)
      [ "$status" = healthy ] && break
      [ $SECONDS -lt $deadline ] || fail "$svc is not healthy (status: ${status:-none})"
      sleep 1
    done
  done
}

phase=$SECONDS
up_started=$(date +%s)
compose up -d --build >"$state/up.log" 2>&1 || { cat "$state/up.log"; fail "docker-compose up"; }
wait_healthy 180 postgres bizrelay-1 bizrelay-2
timed up_to_healthy $((SECONDS - phase))
pass "docker-compose up --build: postgres, bizrelay-1 and bizrelay-2 healthy (their own health checks)"

# A replica must have waited for PostgreSQL's health: in the engine's events of `up`, each
# replica's first start follows postgres's first "healthy".
events=$(timeout 30 docker events --since "$up_started" --until "$(date +%s)" \
  --filter "label=com.docker.compose.project=$project" \
  --format '{{.TimeNano}} {{index .Actor.Attributes "com.docker.compose.service"}} {{.Status}}')
pg_healthy=$(awk '$2 == "postgres" && /health_status: healthy/ { print $1; exit }' <<<"$events")
[ -n "$pg_healthy" ] || fail "no healthy event of postgres: $events"
for svc in bizrelay-1 bizrelay-2; do
  started=$(awk -v s="$svc" '$2 == s && $3 == "start" { print $1; exit }' <<<"$events")
  [ -n "$started" ] && [ "$started" -gt "$pg_healthy" ] ||
    fail "$svc started before PostgreSQL was healthy: $events"
done
pass "the replicas started only once PostgreSQL was healthy"

# --- 5. Checks through the published ports ------------------------------------------------
tls=(--ca-file "$root/deploy/tls/ca.pem")
r1=(--addr localhost:7000 --operator-addr localhost:7002 --personal-addr localhost:7001)
r2=(--addr localhost:7010 --operator-addr localhost:7012 --personal-addr localhost:7011)
brc() { timeout 30 "$cli" --json "${tls[@]}" "$@"; }
json() { python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[k]
print(d)' "$1"; }

out=$(timeout 30 "${health[@]}" --address localhost:7000 --address localhost:7001 \
  --address localhost:7010 --address localhost:7011 --address 127.0.0.1:7002 \
  --address 127.0.0.1:7012) || fail "health over TLS: $out"
pass "health over TLS SERVING on public 7000/7010, personal 7001/7011, operator 7002/7012"

for port in 7003 7013; do
  timeout 10 python3 -c 'import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
sys.exit(0 if "bizrelay_database_up{path=\"hosting\"} 1" in text else 1)' \
    "http://127.0.0.1:$port/metrics" || fail "metrics on 127.0.0.1:$port"
done
pass "metrics on 127.0.0.1:7003/7013 report the database up"

name="Toko Compose $$"
created=$(brc "${r1[@]}" --token-file deploy/operator.token business create --name "$name")
business_id=$(json business.businessId <<<"$created")
api_key=$(json apiKey <<<"$created")
got=$(brc "${r2[@]}" --token-file deploy/operator.token business get "$business_id")
[ "$(json business.profile.displayName <<<"$got")" = "$name" ] ||
  fail "replica 2 does not return the business created through replica 1: $got"
pass "business $business_id created through replica 1, read through replica 2"

user_token=$(brc "${r1[@]}" register "Siti" | json token)
brc "${r1[@]}" --token "$user_token" start "$business_id" --yes >/dev/null
# The business streams from replica 2 before the user sends to replica 1: the message must
# wake a stream on the other instance (LISTEN/NOTIFY), not only be found in a backlog.
timeout 60 "$cli" --json "${tls[@]}" "${r2[@]}" --token "$api_key" inbox --count 2 \
  >"$state/inbox.json" 2>"$state/inbox.err" &
inbox_pid=$!
bg_pids+=("$inbox_pid")
sleep 2
text="Halo dari replika 1, $$"
brc "${r1[@]}" --token "$user_token" send "$business_id" "$text" >/dev/null 2>&1
wait "$inbox_pid" || fail "business inbox stream on replica 2: $(cat "$state/inbox.err")"
grep -qF "$text" "$state/inbox.json" ||
  fail "replica 2's inbox stream did not carry the message sent to replica 1: $(cat "$state/inbox.json")"
pass "a user's message sent to replica 1 streamed by the business from replica 2"

# Each path's role, with its own password over TCP as the replicas connect: its own schema
# readable, the other path's refused.
psql_as() {  # psql_as ROLE PASSWORD SQL
  timeout 30 docker exec -i "$(compose ps -q postgres)" \
    psql "postgresql://$1:$2@127.0.0.1:5432/bizrelay" -X -A -t -c "$3" 2>&1
}
hosting_pw=${HOSTING_DB_PASSWORD:-hosting-dev}
personal_pw=${PERSONAL_DB_PASSWORD:-personal-dev}
out=$(psql_as bizrelay_hosting "$hosting_pw" "SELECT count(*) FROM hosting.messages") ||
  fail "the hosting role cannot read its own schema: $out"
out=$(psql_as bizrelay_personal "$personal_pw" "SELECT count(*) FROM personal.envelopes") ||
  fail "the personal role cannot read its own schema: $out"
out=$(psql_as bizrelay_hosting "$hosting_pw" "SELECT count(*) FROM personal.envelopes") &&
  fail "the hosting role read the personal schema: $out"
grep -q 'permission denied for schema personal' <<<"$out" || fail "hosting role: $out"
out=$(psql_as bizrelay_personal "$personal_pw" "SELECT count(*) FROM hosting.messages") &&
  fail "the personal role read the hosting schema: $out"
grep -q 'permission denied for schema hosting' <<<"$out" || fail "personal role: $out"
pass "each database role reads its own schema and is refused the other path's"

phase=$SECONDS
COMPOSE_TIMEOUT=120 compose stop >"$state/stop.log" 2>&1 || { cat "$state/stop.log"; fail "stop"; }
timed stop_all $((SECONDS - phase))
phase=$SECONDS
compose up -d >"$state/up2.log" 2>&1 || { cat "$state/up2.log"; fail "up after stop"; }
wait_healthy 180 postgres bizrelay-1 bizrelay-2
timed restart_to_healthy $((SECONDS - phase))
got=$(brc "${r2[@]}" --token-file deploy/operator.token business get "$business_id")
[ "$(json business.profile.displayName <<<"$got")" = "$name" ] || fail "business lost: $got"
brc "${r2[@]}" --token "$api_key" inbox --count 2 >"$state/inbox2.json" 2>"$state/inbox2.err" ||
  fail "inbox after restart: $(cat "$state/inbox2.err")"
grep -qF "$text" "$state/inbox2.json" || fail "the message was lost across stop and up"
pass "stop then up keeps the data (business and unacknowledged message still there)"

# Drain: a replica with a live stream stops with exit status 0 (its own graceful shutdown,
# not the SIGKILL at the end of stop_grace_period) within the grace period.
timeout 120 "$cli" --json "${tls[@]}" "${r1[@]}" --token "$api_key" inbox \
  >/dev/null 2>"$state/drain.err" &
drain_pid=$!
bg_pids+=("$drain_pid")
sleep 2
kill -0 "$drain_pid" 2>/dev/null || fail "the stream on replica 1 ended early: $(cat "$state/drain.err")"
r1_id=$(compose ps -q bizrelay-1)
phase=$SECONDS
COMPOSE_TIMEOUT=60 compose stop bizrelay-1 >"$state/stop1.log" 2>&1 || fail "stop bizrelay-1"
stop_s=$((SECONDS - phase))
timed stop_replica $stop_s
exit_code=$(timeout 20 docker inspect -f '{{.State.ExitCode}}' "$r1_id")
[ "$exit_code" = 0 ] || fail "bizrelay-1 exited with $exit_code after ${stop_s}s (137: killed, not drained)"
[ "$stop_s" -lt "$grace_s" ] || fail "bizrelay-1 took ${stop_s}s to stop (grace period ${grace_s}s)"
# Into a file first: grep -q stops reading at the first match, and under pipefail the writer's
# SIGPIPE would fail the pipeline although the line is there.
timeout 20 docker logs "$r1_id" >"$state/r1.log" 2>&1 || fail "docker logs bizrelay-1"
grep -q 'event=shutdown_complete' "$state/r1.log" ||
  fail "bizrelay-1 logged no shutdown_complete"
for _ in $(seq 20); do kill -0 "$drain_pid" 2>/dev/null || break; sleep 0.5; done
kill -0 "$drain_pid" 2>/dev/null && fail "the stream on the stopped replica did not end"
wait "$drain_pid" || true
out=$(timeout 30 "${health[@]}" --address localhost:7010) || fail "bizrelay-2 after bizrelay-1 stopped: $out"
pass "stopping bizrelay-1 drained it in ${stop_s}s (grace ${grace_s}s, exit 0, stream ended); bizrelay-2 serves"

# --- Image sizes, then down -v -------------------------------------------------------------
sizes=()
for image in "$base" "$postgres" "${project}_bizrelay-1"; do
  sizes+=("$image $(timeout 20 docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}')")
done

phase=$SECONDS
COMPOSE_TIMEOUT=120 compose down -v --remove-orphans >"$state/down.log" 2>&1 ||
  { cat "$state/down.log"; fail "down -v"; }
compose_up=""
timed down $((SECONDS - phase))
label=com.docker.compose.project=$project
left=$(
  timeout 20 docker ps -aq --filter "label=$label"
  timeout 20 docker network ls -q --filter "label=$label"
  timeout 20 docker volume ls -q --filter "label=$label"
)
[ -z "$left" ] || fail "down -v left: $left"
pass "down -v removed every container, network and volume of the project"

log "image sizes: $(printf '%s; ' "${sizes[@]}")"
log "timings: $(printf '%s; ' "${timings[@]}")total $((SECONDS - t0))s"
