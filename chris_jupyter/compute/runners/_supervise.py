"""Supervisor of one local job; run as a script (``python -I _supervise.py JOBDIR MEM_BYTES -- ARGV``).

It lives in its own session so the job survives a backend restart, applies the memory rlimit,
sends the program's output to ``JOBDIR/log``, and writes the exit status to ``JOBDIR/exit_code``
(atomically) so that a restarted backend can learn how a job it lost ended. A program killed by
signal N is reported as 128 + N, like a shell or Docker.
"""

import os
import resource
import signal
import subprocess
import sys


def main() -> int:
    jobdir, mem_bytes = sys.argv[1], int(sys.argv[2])
    cwd = sys.argv[3]
    argv = sys.argv[sys.argv.index("--") + 1 :]
    # A cancel signals the whole process group: outlive the program to record how it ended.
    # (A handler, not SIG_IGN, so that the program does not inherit an ignored SIGTERM.)
    signal.signal(signal.SIGTERM, lambda *_: None)

    def limits() -> None:
        if mem_bytes > 0:
            resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    with open(os.path.join(jobdir, "log"), "ab", buffering=0) as log:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                preexec_fn=limits,
                close_fds=True,
            )
        except OSError as exc:
            log.write(f"cannot start {argv[0]!r}: {exc}\n".encode())
            code = 127
        else:
            with open(os.path.join(jobdir, "child.pid"), "w") as f:
                f.write(str(proc.pid))
            code = proc.wait()
            if code < 0:
                code = 128 - code
    tmp = os.path.join(jobdir, "exit_code.tmp")
    with open(tmp, "w") as f:
        f.write(str(code))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(jobdir, "exit_code"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
