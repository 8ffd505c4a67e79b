"""Child process for the launch benchmark: the real dashboard start-up path, headless.

Prints one JSON line: monotonic time of the first written frame with every pane
populated, and peak RSS. Run by bench/launch_bench.py; not useful alone.
"""

import sys
import time

T_IMPORT0 = time.monotonic()

import json  # noqa: E402
import resource  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def peak_rss_kib() -> int:
    """VmHWM: unlike ru_maxrss, it is not inherited from a large parent across fork+exec."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    import faulthandler

    # A child that hangs (the parent gives up after 90 s) prints every thread's stack.
    faulthandler.dump_traceback_later(75, exit=True)
    from decimal import Decimal

    from aitbc_tui.cli import build_parser, build_service

    args = build_parser().parse_args(sys.argv[1:])
    config, service = build_service(args)
    from textual.drivers.headless_driver import HeadlessDriver

    from aitbc_tui.domain import Mode
    from aitbc_tui.ui.app import AitbcApp

    modes = {getattr(service.venue(n), "mode", None) for n in service.venue_names}
    mode = next(iter(sorted(modes, key=lambda m: m.value)), Mode.SANDBOX)
    app = AitbcApp(service, mode=mode, impact_size=Decimal("1"))
    result: dict = {}

    def populated() -> bool:
        ladder = app.query_one("#ladder")
        health = app.query_one("#health")
        arb = app.query_one("#arb")
        shared = any(len(service.venues_for(s)) >= 2 for s in service.all_symbols())
        return (
            ladder._snapshot is not None
            and len([r for r in health.rows if len(r) > 1]) == len(service.venue_names)
            and (bool(arb.rows) or not shared)
        )

    def write(self, data: str) -> None:
        if result or len(data) <= 16:
            return
        try:
            ok = populated()
        except Exception:  # noqa: BLE001 - panes not mounted yet
            ok = False
        if ok:
            result["t_frame"] = time.monotonic()
            result["maxrss_kib"] = peak_rss_kib()
            result["ccxt_imported"] = "ccxt" in sys.modules
            app.call_later(app.exit)

    HeadlessDriver.is_headless = property(lambda self: False)
    HeadlessDriver.write = write

    def give_up() -> None:
        result.setdefault("error", "no full frame within 30 s")
        app.exit()

    import threading

    timer = threading.Timer(30, lambda: app.call_from_thread(give_up))
    timer.daemon = True
    timer.start()
    app.run(headless=True, size=(200, 60))
    result["maxrss_end_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
