#!/usr/bin/env bash
# Runs the timing-sensitive test files (the live monitor, the delivery workers, the dispatcher and the ordering rules)
# RUNS times in a row while BURNERS processes keep the CPUs busy: a test that waits for a fixed time, or asserts a
# wall-clock limit, fails here first. Run it with the servers of the README's test set-up and CI=true, e.g.
#
#   CI=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/eventhub AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ \
#   REDIS_URL=redis://127.0.0.1:6379/0 tests/stress.sh 20 2
#
# Usage: tests/stress.sh [RUNS=20] [BURNERS=2] [pytest arguments...]. Every run goes on after a failure; each failed
# run's output is kept in $STRESS_LOGS (default: a new temporary directory). Exits 1 when any run failed.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${1:-20}
burners=${2:-2}
shift $(( $# > 2 ? 2 : $# ))
python=${PYTHON:-.venv/bin/python}
logs=${STRESS_LOGS:-$(mktemp -d -t eventhub-stress.XXXXXX)}
mkdir -p "$logs"

files=(tests/monitor tests/subscriptions/test_worker.py tests/subscriptions/test_worker_embedded.py
       tests/subscriptions/test_worker_processes.py tests/subscriptions/test_dispatch.py
       tests/subscriptions/test_dispatch_isolation.py tests/subscriptions/test_dispatch_process.py
       tests/subscriptions/test_ordering.py)

pids=()
stop_burners() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done; }
trap stop_burners EXIT
trap 'exit 130' INT TERM  # so that the EXIT trap stops the burners
for ((i = 0; i < burners; i++)); do
  nice -n 0 "$python" -c 'while True: pass' &
  pids+=($!)
done

passed=0
start=$SECONDS
for ((run = 1; run <= runs; run++)); do
  began=$SECONDS
  log="$logs/run-$run.log"
  if "$python" -m pytest -q -p no:randomly "${files[@]}" "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "run $run/$runs passed in $((SECONDS - began)) s: $(tail -n 1 "$log")"
    rm -f "$log"
  else
    echo "run $run/$runs FAILED in $((SECONDS - began)) s: $(tail -n 1 "$log") (output: $log)"
  fi
done
echo "$passed/$runs runs passed under $burners CPU burners in $((SECONDS - start)) s"
[ "$passed" -eq "$runs" ]
