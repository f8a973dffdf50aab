#!/bin/sh
# Writes the password from the secret file into a private include file (not the process
# list), then starts Redis with docker/redis/redis.conf.
set -eu
umask 077
printf 'requirepass "%s"\n' "$(tr -d '\r\n' < /run/secrets/redis_password)" > /tmp/redis-secret.conf
exec redis-server /usr/local/etc/redis/redis.conf
