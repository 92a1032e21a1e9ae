"""Real compute engines for the tests and benchmarks: a one-node Docker Swarm and a one-node SLURM
cluster, each started here and left as found.

- :func:`swarm` initialises a swarm on loopback if the engine is in none (and leaves it again,
  removing the ``docker_gwbridge`` network a ``swarm leave`` leaves behind); an engine already in
  a swarm is used as it is. Plain ``docker run`` keeps working meanwhile.
- :func:`slurm` starts ``munged`` (if none answers), ``slurmctld`` and ``slurmd`` from Debian's
  packages (``scripts/install-deps --test``) with a minimal configuration of its own in a
  private folder (no accounting database), and stops what it started.
- :func:`netns` makes a network namespace joined to this one by a veth pair (for a "remote"
  compute resource whose bytes really cross a link), and removes both.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, check=check, timeout=120)


@contextlib.contextmanager
def swarm() -> Iterator[None]:
    """A one-node swarm for the duration (initialised on 127.0.0.1 unless one is there)."""
    state = _docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
    if state == "active":
        yield
        return
    had_gwbridge = bool(_docker("network", "ls", "-q", "-f", "name=^docker_gwbridge$").stdout.strip())
    _docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        yield
    finally:
        _docker("swarm", "leave", "--force", check=False)
        if not had_gwbridge:
            _docker("network", "rm", "docker_gwbridge", check=False)
        # the SwarmRunner's node-local config-only network outlives the swarm
        left = _docker("network", "ls", "-q", "-f", "label=chris_jupyter.network=isolated").stdout.split()
        if left:
            _docker("network", "rm", *left, check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _munge_answers() -> bool:
    if not shutil.which("munge"):
        return False
    enc = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
    if enc.returncode != 0:
        return False
    return subprocess.run(["unmunge"], input=enc.stdout, capture_output=True, timeout=10).returncode == 0


SLURM_CONF = """\
ClusterName=chrisjupytertest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
ReturnToService=2
MinJobAge=600
KillWait=5
SchedulerParameters=sched_interval=1
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


@contextlib.contextmanager
def slurm(where: Path) -> Iterator[Path]:
    """A one-node SLURM cluster; yields the path of its ``slurm.conf`` (for ``SLURM_CONF``)."""
    missing = [c for c in ("slurmctld", "slurmd", "sbatch", "squeue", "munged") if not shutil.which(c)
               and not os.path.exists(f"/usr/sbin/{c}")]
    if missing:
        raise RuntimeError(f"SLURM is not installed ({', '.join(missing)} missing): run scripts/install-deps --test")
    where.mkdir(parents=True, exist_ok=True)
    for sub in ("state", "spool"):
        (where / sub).mkdir(exist_ok=True)
    host = socket.gethostname().split(".")[0]
    conf = where / "slurm.conf"
    conf.write_text(SLURM_CONF.format(host=host, dir=where, ctld_port=_free_port(), d_port=_free_port(),
                                      cpus=os.cpu_count() or 1))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    procs: list[subprocess.Popen] = []
    if not _munge_answers():
        os.makedirs("/run/munge", exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        procs.append(subprocess.Popen(["runuser", "-u", "munge", "--", "/usr/sbin/munged", "-F"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 20
        while not _munge_answers():
            if time.monotonic() > deadline:
                raise RuntimeError("munged did not start")
            time.sleep(0.1)
    try:
        log = open(where / "daemons.log", "ab")  # noqa: SIM115  (closed below)
        procs.append(subprocess.Popen(["/usr/sbin/slurmctld", "-D", "-i", "-f", str(conf)], env=env,
                                      stdout=log, stderr=log))
        procs.append(subprocess.Popen(["/usr/sbin/slurmd", "-D", "-f", str(conf), "-N", host], env=env,
                                      stdout=log, stderr=log))
        deadline = time.monotonic() + 60
        while True:
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True,
                                 timeout=30).stdout.strip()
            if out in ("idle", "mix", "alloc"):
                break
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"the SLURM cluster did not come up (node: {out!r}); see {where}")
            time.sleep(0.2)
        yield conf
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        with contextlib.suppress(NameError):
            log.close()


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def netns() -> Iterator[tuple[str, str, str]]:
    """A network namespace joined to this one by a veth pair: (name, host address, its address).

    The pair's ends are ``cjh<tag>`` (here) and ``cjn<tag>`` (there) for a namespace ``cjr<tag>``,
    on a /30 in 10.200.0.0/16 that no route here covers yet."""
    tag = f"{os.getpid() % 10000}{random.randrange(100, 999)}"
    ns, host_if, ns_if = f"cjr{tag}", f"cjh{tag}", f"cjn{tag}"
    while True:
        a, b = random.randrange(0, 256), random.randrange(0, 64) * 4
        routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
        if f"10.200.{a}." not in routes:
            break
    host_ip, ns_ip = f"10.200.{a}.{b + 1}", f"10.200.{a}.{b + 2}"
    _ip("netns", "add", ns)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", ns)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", ns, "addr", "add", f"{ns_ip}/30", "dev", ns_if)
        _ip("-n", ns, "link", "set", ns_if, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        yield ns, host_ip, ns_ip
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
