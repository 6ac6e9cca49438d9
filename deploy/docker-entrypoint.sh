#!/bin/sh
# Container entrypoint: apply database migrations before "oak-maillist serve", then run the
# command. Other commands (worker, scheduler, migrate, user, config) start without migrating.
# MIGRATE_ON_START=false skips the migration (docker-compose.yml sets it on all but one service,
# so only one container migrates).
set -eu

if [ "$#" -eq 0 ]; then
    set -- oak-maillist serve
fi

# "docker run IMAGE worker" or "docker run IMAGE --role http" are shorthands.
case "$1" in
    serve | worker | scheduler | migrate | user | config) set -- oak-maillist "$@" ;;
    -*) set -- oak-maillist serve "$@" ;;
esac

if [ "$1" = "oak-maillist" ] && [ "${2:-}" = "serve" ] && [ "${MIGRATE_ON_START:-true}" = "true" ]; then
    oak-maillist migrate up
fi

exec "$@"
