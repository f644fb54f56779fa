#!/usr/bin/env bash
# Records the small real captures shipped in samples/ (run as root from anywhere; needs BPF).
#
# For each protocol it starts a real Debian server on a free 127.0.0.1 port in a temporary
# directory, runs a real client under `kcap record -p SERVER_PID... -- CLIENT`, so the client and
# (where cheap) the server are traced, then stops the server:
#   redis.kcap      redis-server; redis-benchmark -n 200 -c 2 -t get,set          (server traced)
#   http.kcap       nginx (master + worker); curl: /, /a.txt twice, /missing (404) (server traced)
#   postgres.kcap   PostgreSQL 15 after `pgbench -i`; pgbench -t 10 -c 2           (postmaster traced,
#                   so the backends it forks for the clients are too)
#   mysql.kcap      mariadbd; mariadb-slap: 2 clients, 100 queries "select 1 + 1"  (server traced)
#   memcached.kcap  memcached; memcslap --test=get, 2 threads, 100 keys           (server traced)
#   dns.kcap        dnsmasq for kcap.test; dig over UDP and +tcp: web.kcap.test A (NOERROR),
#                   web.kcap.test AAAA and nope.kcap.test A (NXDOMAIN)            (server traced)
# It writes samples/EXPECTED.json with each capture's headline counts taken from the clients' own
# output (redis-benchmark's "requests completed", curl's status codes, pgbench's "transactions
# actually processed", mariadb-slap's clients x queries per client, memcslap's key counts, dig's
# status lines); test/e2e/samples.test.ts checks `kcap analyze` of each file against it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/samples"
cd "$ROOT"
bash scripts/ensure-packages.sh redis-server redis-tools nginx curl postgresql mariadb-server mariadb-client \
  memcached libmemcached-tools dnsmasq bind9-dnsutils jq

WORK="$(mktemp -d /tmp/kcap-samples-XXXXXX)"
chmod 0755 "$WORK" # postgres (another user) must reach its data directory inside
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -f "$WORK/pg/pg/postmaster.pid" ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
PG_BIN=/usr/lib/postgresql/15/bin

kcap() { node --import tsx "$ROOT/src/cli/main.ts" "$@"; }
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_port() {
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing listens on 127.0.0.1:$1" >&2; return 1
}
# record NAME [-p PID]... -- CLIENT...: records into samples/NAME.kcap, client stdout to $WORK/NAME.out
record() {
  local name="$1"; shift
  rm -f "$OUT/$name.kcap"
  kcap record -o "$OUT/$name.kcap" "$@" >"$WORK/$name.out"
  chmod 0644 "$OUT/$name.kcap"
}
EXPECTED='{}'
expect() { EXPECTED="$(jq --arg f "$1" --argjson v "$2" '.[$f] = $v' <<<"$EXPECTED")"; }

# --- redis
PORT=$(free_port)
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" >/dev/null & PIDS+=($!)
wait_port "$PORT"
record redis -p "${PIDS[-1]}" -- redis-benchmark -p "$PORT" -n 200 -c 2 -t get,set
REDIS_PORT=$PORT REDIS_PID=${PIDS[-1]}
done_of() { grep -A1 "====== $1 ======" "$WORK/redis.out" | grep -o '[0-9]* requests completed' | cut -d' ' -f1; }
expect redis.kcap "{\"redis\":{\"operations\":{\"GET\":$(done_of GET),\"SET\":$(done_of SET)}}}"

# --- http (nginx + curl)
PORT=$(free_port)
mkdir -p "$WORK/nginx/www"
echo '<h1>kcap sample</h1>' >"$WORK/nginx/www/index.html"
echo 'a' >"$WORK/nginx/www/a.txt"
N="$WORK/nginx"
cat >"$N/nginx.conf" <<EOF
daemon off; master_process on; worker_processes 1;
pid $N/nginx.pid; error_log $N/error.log;
events { worker_connections 64; }
http {
  access_log $N/access.log;
  client_body_temp_path $N; proxy_temp_path $N; fastcgi_temp_path $N; uwsgi_temp_path $N; scgi_temp_path $N;
  server { listen 127.0.0.1:$PORT; root $N/www; }
}
EOF
nginx -c "$N/nginx.conf" -p "$N" & PIDS+=($!)
wait_port "$PORT"
WORKER=$(cat "/proc/${PIDS[-1]}/task/${PIDS[-1]}/children")
URL="http://127.0.0.1:$PORT"
record http -p "${PIDS[-1]}" -p "$WORKER" -- curl -s -w '%{http_code}\n' \
  -o /dev/null "$URL/" -o /dev/null "$URL/a.txt" -o /dev/null "$URL/a.txt" -o /dev/null "$URL/missing"
NGINX_PID=${PIDS[-1]}
expect http.kcap "$(jq -Rn '{http1: {statuses: (reduce inputs as $s ({}; .[$s] += 1))}}' <"$WORK/http.out")"

# --- postgres
PORT=$(free_port)
mkdir -p "$WORK/pg" && chown postgres "$WORK/pg"
runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pg/pg" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pg/pg" -o "-p $PORT -k $WORK/pg -c listen_addresses=127.0.0.1" \
  -l "$WORK/pg/pg.log" -w start >/dev/null
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -i -q postgres 2>/dev/null
POSTMASTER=$(head -1 "$WORK/pg/pg/postmaster.pid")
record postgres -p "$POSTMASTER" -- "$PG_BIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -t 10 -c 2 postgres
T=$(grep -o 'actually processed: [0-9]*' "$WORK/postgres.out" | grep -o '[0-9]*$')
PG_PORT=$PORT
expect postgres.kcap "{\"postgres\":{\"operations\":{\"BEGIN\":$T,\"INSERT\":$T,\"END\":$T}}}"

# --- mysql (MariaDB)
PORT=$(free_port)
mariadb-install-db --user=root --datadir="$WORK/my" --auth-root-authentication-method=normal >/dev/null 2>&1
mariadbd --no-defaults --user=root --datadir="$WORK/my" --port="$PORT" --bind-address=127.0.0.1 \
  --socket="$WORK/my.sock" --pid-file="$WORK/my.pid" --log-error="$WORK/my.err" & PIDS+=($!)
wait_port "$PORT"
record mysql -p "${PIDS[-1]}" -- mariadb-slap -h127.0.0.1 -P"$PORT" -uroot --create-schema=mysql \
  --query='select 1 + 1' --concurrency=2 --iterations=1 --number-of-queries=100
C=$(grep -o 'clients running queries: [0-9]*' "$WORK/mysql.out" | grep -o '[0-9]*$')
Q=$(grep -o 'queries per client: [0-9]*' "$WORK/mysql.out" | grep -o '[0-9]*$')
expect mysql.kcap "{\"mysql\":{\"operations\":{\"SELECT\":$((C * Q))}}}"

# --- memcached
PORT=$(free_port)
memcached -u root -l 127.0.0.1 -p "$PORT" -U 0 & PIDS+=($!)
wait_port "$PORT"
record memcached -p "${PIDS[-1]}" -- memcslap --servers="127.0.0.1:$PORT" --concurrency=2 --execute-number=100 --test=get
SETS=$(grep -o 'Time to set *[0-9]* keys' "$WORK/memcached.out" | grep -o '[0-9]*')
GETS=$(grep -o 'Time to get *[0-9]* keys' "$WORK/memcached.out" | grep -o '[0-9]* keys' | grep -o '[0-9]*')
expect memcached.kcap "{\"memcached\":{\"operations\":{\"SET\":$SETS,\"GET\":$GETS}}}"

# --- dns (dnsmasq + dig over UDP and TCP)
PORT=$(free_port)
dnsmasq --no-daemon --port="$PORT" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
  --local=/kcap.test/ --address=/web.kcap.test/10.1.2.3 & PIDS+=($!)
wait_port "$PORT"
DIGS=""
for mode in +notcp +tcp; do
  for q in "web.kcap.test A" "web.kcap.test AAAA" "nope.kcap.test A"; do DIGS+="dig @127.0.0.1 -p $PORT $mode $q; "; done
done
record dns -p "${PIDS[-1]}" -- sh -c "$DIGS"
DNS_PORT=$PORT DNS_PID=${PIDS[-1]}
expect dns.kcap "$(grep -o 'status: [A-Z]*' "$WORK/dns.out" | cut -d' ' -f2 \
  | jq -Rn '{dns: {statuses: (reduce inputs as $s ({}; .[$s] += 1))}}')"

# --- host: one recording of a small "application" that uses several of the servers above at once,
#     the kind of capture attached to a bug report (the README's main example)
APP=""
for i in 1 2 3 4 5; do
  APP+="dig @127.0.0.1 -p $DNS_PORT +short web.kcap.test A; "
  APP+="curl -s -w '%{http_code}\\n' -o /dev/null $URL/ -o /dev/null $URL/missing; "
  APP+="redis-cli -p $REDIS_PORT SET user:$i v$i; redis-cli -p $REDIS_PORT GET user:$i; "
  APP+="psql -h 127.0.0.1 -p $PG_PORT -U postgres -Atc \"select 'bal=' || abalance from pgbench_accounts where aid = $i\" postgres; "
done
record host -p "$REDIS_PID" -p "$NGINX_PID" -p "$WORKER" -p "$POSTMASTER" -p "$DNS_PID" -- sh -c "$APP"
H="$WORK/host.out"
expect host.kcap "$(jq -n --argjson d "$(grep -cx '10.1.2.3' "$H")" --argjson ok "$(grep -cx '200' "$H")" \
  --argjson nf "$(grep -cx '404' "$H")" --argjson set "$(grep -cx 'OK' "$H")" --argjson get "$(grep -cx 'v[0-9]' "$H")" \
  --argjson sel "$(grep -cx 'bal=-\?[0-9]*' "$H")" \
  '{dns: {statuses: {NOERROR: $d}}, http1: {statuses: {"200": $ok, "404": $nf}},
    redis: {operations: {SET: $set, GET: $get}}, postgres: {operations: {SELECT: $sel}}}')"

jq -S . <<<"$EXPECTED" >"$OUT/EXPECTED.json"
ls -l "$OUT"/*.kcap
