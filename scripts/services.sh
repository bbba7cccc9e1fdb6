#!/usr/bin/env bash
# Starts and stops the services the tests and local runs need, idempotently:
#   scripts/services.sh up|down [kafka|aws]     (no service name: all of them)
# Each service has its own <name>_up / <name>_down functions; state (pids, logs) is in .infra/.
set -euo pipefail
cd "$(dirname "$0")/.."
INFRA="$PWD/.infra"
mkdir -p "$INFRA"

# Bounded wait until 127.0.0.1:$1 accepts TCP connections ($2 seconds at most).
wait_for_port() {
  local port=$1 seconds=$2 i
  for ((i = 0; i < seconds * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# Stops the process whose pid is in $1 (a pid file), if it runs.
stop_pidfile() {
  local pidfile=$1 pid i
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$pidfile"
}

# ---------------------------------------------------------------------------------------------
# kafka: tansu 0.6.0 (a Kafka-protocol broker) on 127.0.0.1:9092, memory storage (docs/design.md).

KAFKA_PORT=9092
TANSU_VERSION=0.6.0

# The tansu binary: one already installed (cargo's bin dir), else built once into ~/.cargo/bin
# (about 8 minutes on 2 cores).
tansu_bin() {
  local bin="${CARGO_HOME:-$HOME/.cargo}/bin/tansu"
  if [[ ! -x $bin ]] || ! "$bin" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
    echo "services: installing tansu $TANSU_VERSION (cargo install, several minutes)" >&2
    cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore >&2
  fi
  echo "$bin"
}

kafka_up() {
  local pidfile="$INFRA/kafka.pid"
  if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "services: kafka already running (pid $(cat "$pidfile"))"
    return 0
  fi
  if wait_for_port "$KAFKA_PORT" 0; then
    echo "services: something already listens on 127.0.0.1:$KAFKA_PORT; using it" >&2
    return 0
  fi
  local bin
  bin=$(tansu_bin)
  "$bin" broker \
    --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --storage-engine memory://tansu/ >"$INFRA/kafka.log" 2>&1 &
  echo $! >"$pidfile"
  if ! wait_for_port "$KAFKA_PORT" 30; then
    echo "services: kafka did not open 127.0.0.1:$KAFKA_PORT in 30 s; see $INFRA/kafka.log" >&2
    stop_pidfile "$pidfile"
    return 1
  fi
  echo "services: kafka up on 127.0.0.1:$KAFKA_PORT (pid $(cat "$pidfile"), log $INFRA/kafka.log)"
}

kafka_down() {
  stop_pidfile "$INFRA/kafka.pid"
  echo "services: kafka down"
}

# ---------------------------------------------------------------------------------------------
# aws: moto's server (pinned in scripts/requirements-aws.txt) on 127.0.0.1:4566, started through
# scripts/moto_local_lambda.py, which runs Lambda handlers as local Python subprocesses (no Docker
# here). The venv in .infra/venv also gives the pipelines' setup scripts boto3.

AWS_PORT=${ACTEON_AWS_PORT:-4566}
AWS_VENV="$INFRA/venv"
MOTO_VERSION=5.2.5

# The venv's python, with the pinned moto installed (about 20 s the first time).
aws_python() {
  local python="$AWS_VENV/bin/python"
  if [[ ! -x $python ]] || ! "$python" -c "import moto, boto3, flask; assert moto.__version__ == '$MOTO_VERSION'" 2>/dev/null; then
    echo "services: installing moto $MOTO_VERSION into $AWS_VENV" >&2
    python3 -m venv "$AWS_VENV" >&2
    "$AWS_VENV/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-aws.txt >&2
  fi
  echo "$python"
}

# Whether moto answers its own API on $1 (not merely an open port).
moto_answers() {
  "$AWS_VENV/bin/python" - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1).read()
PY
}

aws_up() {
  local pidfile="$INFRA/aws.pid" python i
  python=$(aws_python)
  if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "services: aws already running (pid $(cat "$pidfile"))"
    return 0
  fi
  if wait_for_port "$AWS_PORT" 0; then
    if moto_answers "$AWS_PORT"; then
      echo "services: an emulator already answers on 127.0.0.1:$AWS_PORT; using it" >&2
      return 0
    fi
    echo "services: 127.0.0.1:$AWS_PORT is taken by something that is not moto" >&2
    return 1
  fi
  "$python" scripts/moto_local_lambda.py --host 127.0.0.1 --port "$AWS_PORT" >"$INFRA/aws.log" 2>&1 &
  echo $! >"$pidfile"
  for ((i = 0; i < 300; i++)); do
    moto_answers "$AWS_PORT" && break
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  if ! moto_answers "$AWS_PORT"; then
    echo "services: the AWS emulator did not answer on 127.0.0.1:$AWS_PORT; see $INFRA/aws.log" >&2
    stop_pidfile "$pidfile"
    return 1
  fi
  echo "services: aws up on 127.0.0.1:$AWS_PORT (pid $(cat "$pidfile"), log $INFRA/aws.log)"
}

aws_down() {
  stop_pidfile "$INFRA/aws.pid"
  echo "services: aws down"
}

# ---------------------------------------------------------------------------------------------

usage() {
  echo "usage: scripts/services.sh up|down [kafka|aws]" >&2
  exit 2
}

action=${1:-}
[[ $action == up || $action == down ]] || usage
services=("${@:2}")
if [[ ${#services[@]} -eq 0 ]]; then
  services=(kafka aws)
fi
for service in "${services[@]}"; do
  if ! declare -F "${service}_${action}" >/dev/null; then
    echo "services: unknown service $service" >&2
    usage
  fi
  "${service}_${action}"
done
