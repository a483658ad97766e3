#!/bin/bash
# Starts a single-node Slurm cluster for tests (sourced): munge, slurmctld and slurmd with their state,
# logs and pid files under $1, and exports SLURM_CONF. Installs slurm-wlm and munge with apt-get when
# missing. Returns non-zero (after saying why) when that is impossible. stop_slurm stops the daemons by
# their pids.
slurm_dir=$1
started_munge=
start_slurm() {
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then echo "slurm-wlm and munge are not installed and this is not root"; return 1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null 2>&1 ||
      { echo "apt-get could not install slurm-wlm and munge"; return 1; }
  fi
  [ "$(id -u)" -eq 0 ] || { echo "starting slurmctld/slurmd needs root"; return 1; }
  mkdir -p "$slurm_dir"/{state,spool,log}
  local host node
  host=$(hostname -s)
  node=$(slurmd -C | head -1)
  cat >"$slurm_dir/slurm.conf" <<CONF
ClusterName=local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=5
StateSaveLocation=$slurm_dir/state
SlurmdSpoolDir=$slurm_dir/spool
SlurmctldPidFile=$slurm_dir/slurmctld.pid
SlurmdPidFile=$slurm_dir/slurmd.pid
SlurmctldLogFile=$slurm_dir/log/slurmctld.log
SlurmdLogFile=$slurm_dir/log/slurmd.log
$node
PartitionName=local Nodes=ALL Default=YES State=UP
CONF
  export SLURM_CONF=$slurm_dir/slurm.conf
  [ -f /etc/munge/munge.key ] || runuser -u munge -- /usr/sbin/mungekey --create >/dev/null 2>&1
  install -d -o munge -g munge -m 0755 /run/munge
  # Our own munged, unless one already answers (munge must reach its pid file: /run/munge, not $slurm_dir).
  if ! munge -n >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/mad-test-munged.pid || { echo "munged did not start"; return 1; }
    started_munge=/run/munge/mad-test-munged.pid
  fi
  slurmctld || { echo "slurmctld did not start: $(tail -3 "$slurm_dir/log/slurmctld.log")"; return 1; }
  slurmd || { echo "slurmd did not start: $(tail -3 "$slurm_dir/log/slurmd.log")"; return 1; }
  for _ in $(seq 1 100); do
    sinfo -h -o %T 2>/dev/null | grep -q idle && return 0
    sleep 0.2
  done
  echo "the node did not become idle: $(sinfo 2>&1 | tail -2)"
  return 1
}
stop_slurm() {
  local pidfile
  for pidfile in "$slurm_dir/slurmd.pid" "$slurm_dir/slurmctld.pid" ${started_munge:-}; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  sleep 0.5
}
