# Sourced by the study scripts: wait_for_quiet waits (up to 10 minutes) for the 1-minute load average to
# fall below 0.5, the rule for a measurement that feeds the docs. It sets $load to the last reading and
# returns 1 if the machine stayed busy.
wait_for_quiet() {
  for _ in $(seq 60); do
    load="$(cut -d' ' -f1 /proc/loadavg)"
    awk -v l="$load" 'BEGIN { exit !(l < 0.5) }' && return 0
    sleep 10
  done
  return 1
}
