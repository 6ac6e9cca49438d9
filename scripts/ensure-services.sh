#!/usr/bin/env bash
# Start the local PostgreSQL, MariaDB, Redis and RabbitMQ the tests use, installing them from
# Debian's packages when missing. Fails, naming the service, when one cannot be reached.
set -uo pipefail

wait_port() {  # name port seconds
  local name=$1 port=$2 seconds=$3
  for _ in $(seq "$seconds"); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 1
  done
  echo "ensure-services: $name is not reachable on 127.0.0.1:$port" >&2
  return 1
}

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null || {
      apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
  fi
}

status=0

# Tools the tests drive as real peers.
command -v oathtool >/dev/null || apt_install oathtool
command -v oathtool >/dev/null || { echo "ensure-services: oathtool is missing" >&2; status=1; }
# The browser the web app's tests drive (tests/web): Debian's chromium, never a downloaded one.
[ -x /usr/bin/chromium ] || apt_install chromium
[ -x /usr/bin/chromium ] || { echo "ensure-services: chromium is missing" >&2; status=1; }
# Chinese glyphs for the zh-CN screenshots the web tests save (otherwise boxes).
[ -n "$(fc-list :lang=zh 2>/dev/null)" ] || apt_install fonts-noto-cjk

if ! up 5432; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
wait_port PostgreSQL 5432 30 || status=1

if ! up 3306; then
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
wait_port MariaDB 3306 60 || status=1

if ! up 6379; then
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
wait_port Redis 6379 20 || status=1

if ! up 5672; then
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  rabbitmq-server -detached || true
fi
wait_port RabbitMQ 5672 90 || status=1
# One virtual host per test backend: the three suites run side by side and must not take each
# other's jobs.
if command -v rabbitmqctl >/dev/null; then
  existing=$(rabbitmqctl -q list_vhosts 2>/dev/null)
  for backend in sqlite postgresql mysql; do
    grep -qx "oak_$backend" <<<"$existing" || {
      rabbitmqctl -q add_vhost "oak_$backend" >/dev/null &&
        rabbitmqctl -q set_permissions -p "oak_$backend" guest ".*" ".*" ".*" >/dev/null; } ||
      { echo "ensure-services: cannot create the RabbitMQ vhost oak_$backend" >&2; status=1; }
  done
fi

# Local spam scorers the AI moderation tests use for real: Rspamd (HTTP :11333, controller
# :11334 for learning, Bayes in the Redis above) and SpamAssassin's spamd (:783, TELL allowed).
if ! up 11333; then
  command -v rspamd >/dev/null || apt_install rspamd
  mkdir -p /etc/rspamd/local.d /var/log/rspamd
  [ -f /etc/rspamd/local.d/redis.conf ] || echo 'servers = "127.0.0.1:6379";' >/etc/rspamd/local.d/redis.conf
  (setsid rspamd -u root -g root -f >>/var/log/rspamd/ci.log 2>&1 &) || true
fi
wait_port Rspamd 11333 90 || status=1
# Rspamd listens before it has loaded its rules: wait until it answers.
for _ in $(seq 90); do
  curl -s -m 2 http://127.0.0.1:11333/ping | grep -q pong && break
  sleep 1
done
curl -s -m 2 http://127.0.0.1:11333/ping | grep -q pong || {
  echo "ensure-services: Rspamd does not answer on 127.0.0.1:11333" >&2; status=1; }

if ! up 783; then
  command -v spamd >/dev/null || apt_install spamassassin spamd spamc
  spamd -d --listen=127.0.0.1:783 --allow-tell -u debian-spamd -g debian-spamd \
    --helper-home-dir=/var/lib/spamassassin --pidfile=/run/spamd.pid -s /var/log/spamd.log || true
fi
wait_port spamd 783 60 || status=1

exit $status
