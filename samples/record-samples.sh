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
#   http2.kcap      nginx over cleartext HTTP/2; h2load -n 120 -c 2 -m 8 over /, /a.txt, /missing
#                                                                                 (server traced)
#   grpc.kcap       test/e2e/clients/grpc_peer.py (python3-grpcio): 3 rounds of unary, server-,
#                   client- and bidi-streaming calls, some ending in chosen statuses (server traced)
# It writes samples/EXPECTED.json with each capture's headline counts taken from the clients' own
# output (redis-benchmark's "requests completed", curl's status codes, pgbench's "transactions
# actually processed", mariadb-slap's clients x queries per client, memcslap's key counts, dig's
# status lines, h2load's status classes, the gRPC client's own tally); test/e2e/samples.test.ts
# checks `kcap analyze` of each file against it.
#
# With names (`record-samples.sh http2 grpc`) it records just those and keeps the other entries
# of EXPECTED.json; host.kcap needs the redis, http, postgres and dns servers, so it records those too.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/samples"
cd "$ROOT"
bash scripts/ensure-packages.sh redis-server redis-tools nginx curl postgresql mariadb-server mariadb-client \
  memcached libmemcached-tools dnsmasq bind9-dnsutils jq nghttp2-client python3-grpcio

SELECTED=" $* "
[[ "$SELECTED" == *" host "* ]] && SELECTED+="redis http postgres dns "
want() { [ "$SELECTED" = "  " ] || [[ "$SELECTED" == *" $1 "* ]]; }

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
# start_nginx DIR PORT LISTEN_FLAGS: nginx (master + one worker) serving /, /a.txt on 127.0.0.1:PORT;
# sets NGINX_PID and WORKER
start_nginx() {
  local n="$1"
  mkdir -p "$n/www"
  echo '<h1>kcap sample</h1>' >"$n/www/index.html"
  echo 'a' >"$n/www/a.txt"
  cat >"$n/nginx.conf" <<EOF
daemon off; master_process on; worker_processes 1;
pid $n/nginx.pid; error_log $n/error.log;
events { worker_connections 64; }
http {
  access_log $n/access.log;
  client_body_temp_path $n; proxy_temp_path $n; fastcgi_temp_path $n; uwsgi_temp_path $n; scgi_temp_path $n;
  server { listen 127.0.0.1:$2 $3; root $n/www; }
}
EOF
  nginx -c "$n/nginx.conf" -p "$n" & PIDS+=($!)
  NGINX_PID=$!
  wait_port "$2"
  WORKER=$(cat "/proc/$NGINX_PID/task/$NGINX_PID/children")
}
EXPECTED='{}'
[ "$SELECTED" != "  " ] && EXPECTED="$(cat "$OUT/EXPECTED.json")"
expect() { EXPECTED="$(jq --arg f "$1" --argjson v "$2" '.[$f] = $v' <<<"$EXPECTED")"; }

# --- redis
if want redis; then
PORT=$(free_port)
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" >/dev/null & PIDS+=($!)
wait_port "$PORT"
record redis -p "${PIDS[-1]}" -- redis-benchmark -p "$PORT" -n 200 -c 2 -t get,set
REDIS_PORT=$PORT REDIS_PID=${PIDS[-1]}
done_of() { grep -A1 "====== $1 ======" "$WORK/redis.out" | grep -o '[0-9]* requests completed' | cut -d' ' -f1; }
expect redis.kcap "{\"redis\":{\"operations\":{\"GET\":$(done_of GET),\"SET\":$(done_of SET)}}}"
fi

# --- http (nginx + curl)
if want http; then
PORT=$(free_port)
start_nginx "$WORK/nginx" "$PORT" ""
URL="http://127.0.0.1:$PORT"
record http -p "$NGINX_PID" -p "$WORKER" -- curl -s -w '%{http_code}\n' \
  -o /dev/null "$URL/" -o /dev/null "$URL/a.txt" -o /dev/null "$URL/a.txt" -o /dev/null "$URL/missing"
HTTP_NGINX=$NGINX_PID HTTP_WORKER=$WORKER
expect http.kcap "$(jq -Rn '{http1: {statuses: (reduce inputs as $s ({}; .[$s] += 1))}}' <"$WORK/http.out")"
fi

# --- postgres
if want postgres; then
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
fi

# --- mysql (MariaDB)
if want mysql; then
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
fi

# --- memcached
if want memcached; then
PORT=$(free_port)
memcached -u root -l 127.0.0.1 -p "$PORT" -U 0 & PIDS+=($!)
wait_port "$PORT"
record memcached -p "${PIDS[-1]}" -- memcslap --servers="127.0.0.1:$PORT" --concurrency=2 --execute-number=100 --test=get
SETS=$(grep -o 'Time to set *[0-9]* keys' "$WORK/memcached.out" | grep -o '[0-9]*')
GETS=$(grep -o 'Time to get *[0-9]* keys' "$WORK/memcached.out" | grep -o '[0-9]* keys' | grep -o '[0-9]*')
expect memcached.kcap "{\"memcached\":{\"operations\":{\"SET\":$SETS,\"GET\":$GETS}}}"
fi

# --- dns (dnsmasq + dig over UDP and TCP)
if want dns; then
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
fi

# --- http2 (nginx over cleartext HTTP/2 with prior knowledge; h2load, 8 streams in flight)
if want http2; then
PORT=$(free_port)
start_nginx "$WORK/nginx-h2" "$PORT" http2
U="http://127.0.0.1:$PORT"
record http2 -p "$NGINX_PID" -p "$WORKER" -- h2load -n 120 -c 2 -m 8 "$U/" "$U/a.txt" "$U/missing"
classes() { grep -o 'status codes: .*' "$WORK/http2.out" | grep -o "[0-9]* $1" | cut -d' ' -f1; }
expect http2.kcap "{\"http2\":{\"statuses\":{\"200\":$(classes 2xx),\"404\":$(classes 4xx)}}}"
fi

# --- grpc (python3-grpcio server and client, the e2e tests' peer)
if want grpc; then
PORT=$(free_port)
PEER="$ROOT/test/e2e/clients/grpc_peer.py"
/usr/bin/python3 "$PEER" server --port "$PORT" >/dev/null & PIDS+=($!)
wait_port "$PORT"
record grpc -p "${PIDS[-1]}" -- /usr/bin/python3 "$PEER" client --port "$PORT" --rounds 3
expect grpc.kcap "$(jq '{grpc: {
    operations: (.calls | with_entries(.key |= ltrimstr("/") | .value |= ([.[]] | add))),
    statuses: (reduce (.calls[] | to_entries[]) as $c ({}; .[$c.key] += $c.value))}}' <"$WORK/grpc.out")"
fi

# --- host: one recording of a small "application" that uses several of the servers above at once,
#     the kind of capture attached to a bug report (the README's main example)
if want host; then
APP=""
for i in 1 2 3 4 5; do
  APP+="dig @127.0.0.1 -p $DNS_PORT +short web.kcap.test A; "
  APP+="curl -s -w '%{http_code}\\n' -o /dev/null $URL/ -o /dev/null $URL/missing; "
  APP+="redis-cli -p $REDIS_PORT SET user:$i v$i; redis-cli -p $REDIS_PORT GET user:$i; "
  APP+="psql -h 127.0.0.1 -p $PG_PORT -U postgres -Atc \"select 'bal=' || abalance from pgbench_accounts where aid = $i\" postgres; "
done
record host -p "$REDIS_PID" -p "$HTTP_NGINX" -p "$HTTP_WORKER" -p "$POSTMASTER" -p "$DNS_PID" -- sh -c "$APP"
H="$WORK/host.out"
expect host.kcap "$(jq -n --argjson d "$(grep -cx '10.1.2.3' "$H")" --argjson ok "$(grep -cx '200' "$H")" \
  --argjson nf "$(grep -cx '404' "$H")" --argjson set "$(grep -cx 'OK' "$H")" --argjson get "$(grep -cx 'v[0-9]' "$H")" \
  --argjson sel "$(grep -cx 'bal=-\?[0-9]*' "$H")" \
  '{dns: {statuses: {NOERROR: $d}}, http1: {statuses: {"200": $ok, "404": $nf}},
    redis: {operations: {SET: $set, GET: $get}}, postgres: {operations: {SELECT: $sel}}}')"
fi

jq -S . <<<"$EXPECTED" >"$OUT/EXPECTED.json"
ls -l "$OUT"/*.kcap
