#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine for the tests (Debian's slurmctld + slurmd + munge): 2 CPUs,
# no GPUs, config and state in one folder, controller and node daemon on localhost. Needs root.
#   scripts/local_slurm.sh install        # apt-get the packages unless present (idempotent)
#   scripts/local_slurm.sh start [DIR]    # write DIR/slurm.conf, start munged, slurmctld, slurmd; wait for the node
#   scripts/local_slurm.sh stop [DIR]
# Clients find it with SLURM_CONF=DIR/slurm.conf. There is no accounting database (no slurmdbd): the job-completion
# log DIR/jobcomp.log holds every job's state, start and end time, and finished jobs stay in `scontrol show job`
# for an hour (MinJobAge).
set -euo pipefail
cmd=${1:-start}
DIR=$(realpath -m "${2:-${MAEBENCH_SLURM_DIR:-/tmp/maebench-slurm}}")
PACKAGES="slurmctld slurmd slurm-client munge"

install() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
    && command -v munged >/dev/null && return 0
  [ "$(id -u)" = 0 ] || { echo "local_slurm: installing Slurm needs root (apt-get install $PACKAGES)" >&2; exit 1; }
  echo "local_slurm: installing $PACKAGES (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
}

start() {
  mkdir -p "$DIR/ctld" "$DIR/spool" /run/munge /var/log/munge /var/lib/munge
  [ -s /etc/munge/munge.key ] || { mkdir -p /etc/munge; dd if=/dev/urandom bs=1 count=1024 2>/dev/null > /etc/munge/munge.key; }
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  pgrep -x munged >/dev/null || munged --force
  cpus=$(nproc)
  cat > "$DIR/slurm.conf" <<CONF
ClusterName=maebench
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
SlurmctldPort=${MAEBENCH_SLURM_PORT:-6817}
SlurmdPort=$(( ${MAEBENCH_SLURM_PORT:-6817} + 1 ))
StateSaveLocation=$DIR/ctld
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=3600
KillWait=5
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.log
NodeName=localhost NodeHostname=localhost CPUs=$cpus RealMemory=$(( $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) - 1024 )) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$DIR/slurm.conf
  alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
  alive "$DIR/slurmctld.pid" || slurmctld -f "$SLURM_CONF" -c   # -c: clean start, no jobs of an earlier cluster
  alive "$DIR/slurmd.pid" || slurmd -f "$SLURM_CONF" -N localhost
  sleep 1
  for daemon in slurmctld slurmd; do  # e.g. another cluster holding the port: say so, never talk to that one
    alive "$DIR/$daemon.pid" || { echo "local_slurm: $daemon did not start; see $DIR/$daemon.log" >&2;
                                  tail -5 "$DIR/$daemon.log" >&2 2>/dev/null; exit 1; }
  done
  for _ in $(seq 60); do
    state=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
    case "$state" in idle*|mix*|alloc*) echo "local_slurm: up ($DIR/slurm.conf, $cpus CPUs)"; return 0 ;; esac
    sleep 1
  done
  echo "local_slurm: the node did not come up; see $DIR/slurmctld.log and $DIR/slurmd.log" >&2
  exit 1
}

stop() {
  export SLURM_CONF=$DIR/slurm.conf
  for pidfile in "$DIR/slurmd.pid" "$DIR/slurmctld.pid"; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  echo "local_slurm: stopped ($DIR)"
}

case "$cmd" in
  install) install ;;
  start) install; start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop [DIR]" >&2; exit 2 ;;
esac
