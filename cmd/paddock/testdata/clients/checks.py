"""checks.py -- the report the Python client drivers share.

Each driver prints one line per check ("PASS name (secs)[: detail]" or
"FAIL name: why", with the end of the traceback indented below) and a
final "N passed, M failed" line, and exits 0 only when every check passed
(and at least one ran). cmd/paddock/clients reads these lines. The drivers
run as scripts, so their directory is on sys.path and `import checks`
finds this file. Python standard library only.
"""

import time
import traceback

passed = 0
failed = 0


def log(msg):
    print(msg, flush=True)


def check(name):
    """Decorator: run the function now as the check `name`; its return
    value, if any, is printed as the detail."""
    def run(fn):
        global passed, failed
        start = time.monotonic()
        try:
            detail = fn()
            passed += 1
            log("PASS %s (%.2fs)%s" % (name, time.monotonic() - start,
                                        ": " + detail if detail else ""))
        except Exception as e:  # noqa: BLE001 -- every failure is reported
            failed += 1
            log("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            for line in traceback.format_exc().rstrip().splitlines()[-3:]:
                log("    " + line)
        return fn
    return run


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def ok(msg):
    """Counts a check passed outside @check and prints it."""
    global passed
    passed += 1
    log("PASS " + msg)


def summary(pending_failures=0):
    """Prints the final line; pending_failures counts failures about to
    end the run that were not counted (a watchdog, a failed connect)."""
    log("%d passed, %d failed" % (passed, failed + pending_failures))


def exit_code():
    return 0 if failed == 0 and passed > 0 else 1
