"""`python -m bridge`: run one bridge instance of the consumer group until SIGTERM/SIGINT."""

import signal
import sys
import threading

if __name__ == "__main__":
    # Catch SIGTERM/SIGINT before the heavy imports: a stop requested during start-up (e.g. by an
    # orchestrator right after launch) still ends with a clean exit 0 instead of a signal death.
    early_stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: early_stop.set())

    from bridge.cli import main

    sys.exit(main(early_stop=early_stop))
