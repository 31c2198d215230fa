#!/usr/bin/env bash
# The docker-compose topology without Docker: local PostgreSQL, `epu migrate` once, two
# `epu serve` instances and nginx (Debian package) with deploy/nginx.conf pointed at them.
#   scripts/run_topology.sh            # then http://127.0.0.1:8080; Ctrl-C stops everything
# Environment: EPU_TOPOLOGY_DB (default postgresql://postgres@127.0.0.1:5432/epu_topology),
# EPU_TOPOLOGY_PORTS (default "8001 8002"), EPU_TOPOLOGY_LISTEN (default 8080).
#   scripts/run_topology.sh --check    # starts it all, checks /health through nginx, stops
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
ensure_venv ""
PYTHON=.venv/bin/python
DB=${EPU_TOPOLOGY_DB:-postgresql://postgres@127.0.0.1:5432/epu_topology}
PORTS=(${EPU_TOPOLOGY_PORTS:-8001 8002})
LISTEN=${EPU_TOPOLOGY_LISTEN:-8080}
RUN=$(mktemp -d /tmp/epu-topology.XXXXXX)

if ! command -v nginx >/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "Installing nginx (Debian package)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  else
    echo "Please install nginx first (apt-get install nginx)" >&2; exit 1
  fi
fi

"$PYTHON" - "$DB" <<'PY'
import sys, psycopg
url = sys.argv[1]; server, name = url.rsplit("/", 1)
with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
    if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
        admin.execute(f'CREATE DATABASE "{name}"')
PY

export EPU_DATABASE_URL=${DB/postgresql:/postgresql+psycopg:}
export EPU_DATA_DIR=${EPU_DATA_DIR:-$RUN/data}
export EPU_PUBLIC_BASE_URL=http://127.0.0.1:$LISTEN
export PYTHONPATH=$PWD
"$PYTHON" -m app.cli migrate

PIDS=()
stop() {
  local nginx=""
  [ -f "$RUN/nginx.pid" ] && nginx=$(cat "$RUN/nginx.pid") && kill "$nginx" 2>/dev/null || true
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # nginx runs as a daemon, not a child: wait until it has closed its port (10 s at most).
  for _ in $(seq 100); do
    [ -n "$nginx" ] && kill -0 "$nginx" 2>/dev/null && [ -f "$RUN/nginx.pid" ] || break
    sleep 0.1
  done
}
trap stop EXIT INT TERM

upstreams=""
for port in "${PORTS[@]}"; do
  "$PYTHON" -m app.cli serve --host 127.0.0.1 --port "$port" --workers 2 --log-level warning &
  PIDS+=($!)
  upstreams+="        server 127.0.0.1:$port max_fails=3 fail_timeout=10s;\n"
done

# Same file as in docker-compose, with loopback ports instead of the service names.
sed -e "/server gateway-[0-9]*:8000/d" \
    -e "s|upstream epu_gateways {|upstream epu_gateways {\n$upstreams|" \
    -e "s|listen 8080;|listen 127.0.0.1:$LISTEN;|" \
    -e "s|pid /tmp/epu-nginx.pid;|pid $RUN/nginx.pid;|" \
    -e "s|/tmp/epu-nginx-|$RUN/nginx-|g" \
    deploy/nginx.conf > "$RUN/nginx.conf"
nginx -t -q -c "$RUN/nginx.conf" -e "$RUN/nginx-error.log"

for port in "${PORTS[@]}"; do
  for _ in $(seq 600); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 "${PIDS[0]}" || { echo "a gateway exited" >&2; exit 1; }
    sleep 0.1
  done
done
nginx -c "$RUN/nginx.conf" -e "$RUN/nginx-error.log"
curl -fsS "http://127.0.0.1:$LISTEN/health" && echo
echo "Gateways on ${PORTS[*]}, nginx on 127.0.0.1:$LISTEN (data: $EPU_DATA_DIR). Ctrl-C stops." >&2
if [ "${1:-}" = "--check" ]; then exit 0; fi
wait "${PIDS[@]}"
