"""Every benchmark of cmdesk in one run, and one table: figure, goal, measured, ratio.

    python -m bench [--quick] [--only NAME[,NAME…]] [--list] [--json FILE] [--logs DIR]
    python -m bench.run_all ...                                   (the same)

Each benchmark runs as its own process (its memory and its failures stay its own); its output is kept
in `--logs` (a temporary folder by default) and read back into figures. The goals are those of
DESIGN.md, "Performance goals". `--quick` runs small sizes for a smoke run (the ratios then say little:
the goals are for 100,000 clients). A benchmark whose script does not exist yet, or that fails, is a
"no disponible" row with the reason, never a crash.

A benchmark script tells its figures in either of two ways (both are read):

- a machine line per figure: `FIGURE {"name": "...", "value": 12.3, "unit": "ms", "goal": 50,
  "better": "lower"}` (`goal` in the same unit; `better` "lower" or "higher"; `goal_text` optional);
- a human row as `bench/desktop_sync.py` prints them: two spaces, the name, the value with its unit,
  and `goal < 300 ms` (or `goal ≥ 80 %`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
UNAVAILABLE = "no disponible"


@dataclass
class Figure:
    name: str
    goal: str
    measured: str
    ratio: str = ""
    ok: bool | None = None  # None: no pass/fail (a ratio to pgbench, say)
    note: str = ""


@dataclass
class Benchmark:
    name: str
    title: str
    module: str
    args: list[str]
    quick_args: list[str]
    # Figures from the output; the default reads FIGURE lines and desktop_sync-style rows.
    parse: Callable[[str, bool], list[Figure]] | None = None
    timeout: float = 3600.0
    # The expected figures, shown "no disponible" when the script is missing.
    expected: list[tuple[str, str]] = field(default_factory=list)
    # Instead of a module: a function that measures (cold start).
    runner: Callable[[bool, Path], tuple[str, list[Figure]]] | None = None


# ---- Reading figures ----------------------------------------------------------------------------------

_UNITS = {"ms": 0.001, "s": 1.0, "µs": 1e-6, "us": 1e-6, "MiB": 1.0, "MB": 1.0, "%": 1.0, "req/s": 1.0}
_ROW = re.compile(
    r"^\s{2}(?P<name>\S.*?)\s{2,}(?P<value>[\d.,]+)\s*(?P<unit>ms|s|µs|us|MiB|MB|%)\s+"
    r"(?:goal|objetivo)\s*(?P<op><=|>=|<|>|≤|≥)\s*(?P<goal>[\d.,]+)\s*(?P<gunit>ms|s|µs|us|MiB|MB|%)"
)


# Figure names the existing scripts print in English, as the table shows them.
SPANISH = {
    "first full sync": "Primera sincronización completa",
    "delta sync (100 client edits)": "Sincronización delta de 100 cambios",
    "clients tab first page + count": "Pestaña Clientes lista (primera página y total)",
    "twelve orders: first page, worst": "Cambio de orden, el peor de los doce",
    "search keystroke p95 (page + count)": "Tecleo en la búsqueda (p95, página y total)",
}


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _format(value: float, unit: str) -> str:
    if unit in ("ms", "µs", "us"):
        return f"{value:,.1f} {unit}"
    if unit == "%":
        return f"{value:.1f} %"
    return f"{value:,.2f} {unit}"


def figure(
    name: str, value: float, unit: str, goal: float | None, better: str = "lower", **kw: Any
) -> Figure:
    """A figure with its ratio, always measured / goal: ≤ 1.00 meets a "less than" goal, ≥ 1.00 an
    "at least" goal."""
    if goal is None or goal == 0:
        return Figure(name, kw.get("goal_text") or "—", _format(value, unit), kw.get("ratio") or "", None)
    ratio = value / goal
    ok = ratio <= 1 if better == "lower" else ratio >= 1
    sign = "<" if better == "lower" else "≥"
    return Figure(
        name, kw.get("goal_text") or f"{sign} {_format(goal, unit)}", _format(value, unit), f"{ratio:.2f}", ok
    )


def generic(output: str, quick: bool) -> list[Figure]:
    """FIGURE lines when the script prints any; else its human rows with a goal."""
    machine = [line for line in output.splitlines() if line.startswith("FIGURE ")]
    if machine:
        output = "\n".join(machine)
    out: list[Figure] = []
    for line in output.splitlines():
        if line.startswith("FIGURE "):
            try:
                data = json.loads(line[len("FIGURE ") :])
                out.append(
                    figure(
                        str(data["name"]),
                        float(data["value"]),
                        str(data.get("unit", "")),
                        float(data["goal"]) if data.get("goal") is not None else None,
                        str(data.get("better", "lower")),
                        goal_text=data.get("goal_text"),
                    )
                )
            except (ValueError, KeyError, TypeError):
                continue
            continue
        m = _ROW.match(line)
        if m:
            value = _number(m["value"]) * _UNITS[m["unit"]]
            goal = _number(m["goal"]) * _UNITS[m["gunit"]]
            better = "higher" if m["op"] in (">", ">=", "≥") else "lower"
            unit = m["unit"]
            scale = _UNITS[unit]
            name = m["name"].strip()
            out.append(figure(SPANISH.get(name, name), value / scale, unit, goal / scale, better))
    return out


def parse_load_server(output: str, quick: bool) -> list[Figure]:
    """`bench/load_server.py`'s table: operation, callers, pgbench tps, server req/s, ratio, p50, p99,
    errors, then CPU per request. The ratio to pgbench -N is the figure; the issue's aim for consume is
    25 % (transfers of one distributor serialize on its balance row by design: no aim); errors must
    be 0."""
    names = {"consume": "Consumo de timbres (HTTP Basic)", "transfer": "Transferencias (Bearer + clave)"}
    out = []
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0] in names and parts[1].isdigit():
            op, callers, tps, rate, ratio, _p50, p99, errors = parts[:8]
            share = float(rate) / float(tps) if float(tps) else 0.0
            ok: bool | None = None
            if errors != "0":
                ok = False
            elif op == "consume":
                ok = share >= 0.25
            out.append(
                Figure(
                    f"{names[op]}, {callers} llamadas simultáneas",
                    "≥ 25 % de pgbench -N" if op == "consume" else "proporción de pgbench -N",
                    f"{float(rate):,.0f} req/s (p99 {float(p99):,.0f} ms)",
                    ratio,
                    ok,
                    note=f"pgbench -N {float(tps):,.0f} tps"
                    + ("" if errors == "0" else f"; {errors} errores"),
                )
            )
    return out


def parse_soak(output: str, quick: bool) -> list[Figure]:
    checks = re.findall(r"^\s+\[(OK|FALLA)\] (.*)$", output, re.M)
    if not checks:
        return []
    good = sum(1 for s, _ in checks if s == "OK")
    faults = re.findall(
        r"^\s+(server workers killed|desktops killed|answers lost after).*?\s([\d,]+)$", output, re.M
    )
    detail = ", ".join(f"{n} {k}" for k, n in faults)
    return [
        Figure(
            "Bajo fallas: nada perdido ni aplicado dos veces, libro mayor cuadrado, cachés = servidor",
            f"{len(checks)}/{len(checks)} invariantes",
            f"{good}/{len(checks)}",
            f"{good / len(checks):.2f}",
            good == len(checks),
            note=detail,
        )
    ]


# ---- Cold start ---------------------------------------------------------------------------------------

_STARTUP = re.compile(r"\b(?P<what>window|data|session|ready)\s+(?P<v>[\d.]+)\s*(?P<u>ms|s)\b")
# What `cmdesk --measure-startup` reports (see cmdesk/ui/app.py `_report_startup`); "ready", the
# session mark of older builds, is read as "session".
_STARTUP_FIGURES = (
    ("window", "Arranque en frío: ventana visible (mediana)", 2.0),
    ("data", "Arranque en frío: ventana con datos, cuenta y filas (mediana)", 2.0),
    ("session", "Arranque en frío: sesión abierta y sincronizada (mediana)", None),
)


def _startup_marks(stdout: str) -> dict[str, float]:
    marks: dict[str, float] = {}
    for m in _STARTUP.finditer(next((x for x in stdout.splitlines() if x.startswith("startup:")), "")):
        what = "session" if m["what"] == "ready" else m["what"]
        marks[what] = float(m["v"]) * (0.001 if m["u"] == "ms" else 1.0)
    return marks


def measure_startup(quick: bool, logs: Path) -> tuple[str, list[Figure]]:
    """Cold start of the desktop on the embedded default, offscreen: `cmdesk --measure-startup` in a
    new process, timed from the spawn to its report. The first run (empty folder: the demo is seeded,
    then synced) is reported on its own; the medians are of the runs after it, which start on the
    data the previous run left (what a user sees every day)."""
    home = Path(tempfile.mkdtemp(prefix="cmdesk-start-"))
    cmd = [sys.executable, "-m", "cmdesk.app", "--measure-startup"]
    runs = 2 if quick else 5
    outputs: list[str] = []
    walls: list[float] = []
    reported: dict[str, list[float]] = {}
    first: dict[str, float] = {}
    for i in range(runs + 1):
        t = time.perf_counter()
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "CMDESK_HOME": str(home),
            "CMDESK_MEASURE_T0": repr(time.time()),  # the app reports seconds since this spawn
        }
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
        wall = time.perf_counter() - t
        outputs.append(done.stdout + done.stderr)
        if done.returncode != 0:
            if "--measure-startup" in done.stderr and "unrecognized" in done.stderr:
                return "\n".join(outputs), []
            tail = (done.stdout + done.stderr)[-500:]
            raise RuntimeError(f"cmdesk --measure-startup terminó con {done.returncode}: {tail}")
        marks = _startup_marks(done.stdout)
        if i == 0:
            first = marks  # the first run creates and seeds the embedded database
            continue
        walls.append(wall)
        for key, seconds in marks.items():
            reported.setdefault(key, []).append(seconds)
    figures = [
        figure(title, statistics.median(reported[key]), "s", goal)
        for key, title, goal in _STARTUP_FIGURES
        if key in reported
    ]
    figures.append(
        figure(
            "Arranque en frío: del proceso nuevo a su salida (mediana)", statistics.median(walls), "s", None
        )
    )
    if "data" in first:
        figures.append(
            figure(
                "Primer arranque (siembra de la demostración): ventana con datos",
                first["data"],
                "s",
                None,
            )
        )
    shutil.rmtree(home, ignore_errors=True)
    return "\n".join(outputs), figures


# ---- The benchmarks -----------------------------------------------------------------------------------

BENCHMARKS: list[Benchmark] = [
    Benchmark(
        "startup",
        "Arranque del escritorio (servidor integrado)",
        "",
        [],
        [],
        runner=measure_startup,
        expected=[("Arranque en frío a una ventana con datos", "< 2.00 s")],
    ),
    Benchmark(
        "desktop_sync",
        "Sincronización del escritorio y vistas de la caché",
        "bench.desktop_sync",
        ["--clients", "100000", "--changes", "100"],
        ["--clients", "5000", "--changes", "100"],
        expected=[
            ("Primera sincronización completa (100 mil clientes)", "< 20.00 s"),
            ("Sincronización delta de 100 cambios", "< 300.0 ms"),
        ],
    ),
    Benchmark(
        "clients_tab",
        "Pestaña Clientes con 100 mil clientes",
        "bench.clients_tab",
        [],
        ["--quick"],
        expected=[
            ("Pestaña Clientes lista", "< 500.0 ms"),
            ("Tecleo en la búsqueda (p95)", "< 40.0 ms"),
            ("Cambio de orden", "< 200.0 ms"),
            ("Memoria de la aplicación", "< 400.00 MiB"),
        ],
    ),
    Benchmark(
        "downloads",
        "Descargas de instaladores frente a curl",
        "bench.downloads",
        [],
        ["--quick"],
        expected=[("Descarga frente a curl en loopback", "≥ 80.0 %")],
    ),
    Benchmark(
        "statement_cache",
        "Estado de cuenta de 100 mil movimientos desde la caché del escritorio",
        "bench.statement_cache",
        [],
        ["--runs", "3"],
        expected=[("Estado de cuenta de 100,000 movimientos desde la caché", "< 500.0 ms")],
    ),
    Benchmark(
        "bitacora",
        "Bitácora a un millón de registros y estado de cuenta de 100 mil movimientos",
        "bench.bitacora",
        [],
        ["--quick"],
        expected=[
            ("Bitácora: página con 1,000,000 registros (SQLite)", "< 100.0 ms"),
            ("Bitácora: página con 1,000,000 registros (PostgreSQL)", "< 100.0 ms"),
            ("Estado de cuenta de 100,000 movimientos: página (SQLite)", "< 500.0 ms"),
            ("Estado de cuenta de 100,000 movimientos: página (PostgreSQL)", "< 500.0 ms"),
        ],
    ),
    Benchmark(
        "server_load",
        "Servidor en PostgreSQL frente a pgbench -N",
        "bench.load_server",
        ["--seconds", "8", "--workers", "2", "--concurrency", "1,8,32"],
        ["--seconds", "2", "--workers", "2", "--concurrency", "1,8"],
        parse=parse_load_server,
        expected=[("Consumo y transferencias", "proporción de pgbench -N")],
    ),
    Benchmark(
        "transfers",
        "Transferencias a fin de mes: sueltas frente a pgbench -N, masiva de 5,000 y timbrado a la vez",
        "bench.transfers",
        ["--seconds", "8", "--workers", "2", "--concurrency", "1,8,32", "--bulk", "5000"],
        ["--seconds", "2", "--workers", "2", "--concurrency", "1,8", "--bulk", "1000"],
        expected=[
            ("Transferencias, 8 llamadas en 8 distribuidores", "≥ 25 % de pgbench -N"),
            ("Transferencia masiva de 5,000 en PostgreSQL", "< 1.00 s"),
            ("Transferencia masiva de 5,000 en SQLite", "< 3.00 s"),
            ("Timbrado de otro distribuidor durante la masiva, p99", "< 40.0 ms"),
        ],
    ),
    Benchmark(
        "soak",
        "Prueba de resistencia con fallas",
        "bench.soak",
        ["--minutes", "2", "--desktops", "4", "--workers", "2"],
        ["--minutes", "0.5", "--desktops", "2", "--workers", "2"],
        parse=parse_soak,
        expected=[("Sin sobregiros ni dobles aplicaciones bajo fallas", "todas las invariantes")],
    ),
]


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _supports(module: str, option: str) -> bool:
    """Whether a script's --help mentions `option` (scripts being written may not take --quick yet)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return option in done.stdout


def run_one(bench: Benchmark, quick: bool, logs: Path, say: Callable[[str], None]) -> list[Figure]:
    """The figures of one benchmark; "no disponible" rows when it is missing or fails."""

    def unavailable(reason: str) -> list[Figure]:
        rows = bench.expected or [(bench.title, "—")]
        return [
            Figure(name, goal, UNAVAILABLE, "", None, reason if i == 0 else "")
            for i, (name, goal) in enumerate(rows)
        ]

    log = logs / f"{bench.name}.log"
    started = time.perf_counter()
    if bench.runner is not None:
        try:
            output, figures = bench.runner(quick, logs)
        except Exception as error:  # a benchmark's failure is a row, not a crash
            log.write_text(repr(error))
            return unavailable(f"falló: {error}"[:200])
        log.write_text(output)
        return figures or unavailable("el programa no informó la medición (¿falta --measure-startup?)")
    if not _module_exists(bench.module):
        return unavailable(f"{bench.module.replace('.', '/')}.py no existe todavía")
    args = list(bench.quick_args if quick else bench.args)
    if quick and "--quick" in args and not _supports(bench.module, "--quick"):
        args.remove("--quick")
    cmd = [sys.executable, "-m", bench.module, *args]
    say(f"  $ {' '.join(cmd[1:])}")
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH", "")] if p)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=bench.timeout)
    except subprocess.TimeoutExpired:
        return unavailable(f"no terminó en {bench.timeout / 60:.0f} min")
    output = done.stdout + ("\n--- stderr ---\n" + done.stderr if done.stderr else "")
    log.write_text(output)
    figures = (bench.parse or generic)(done.stdout, quick)
    if done.returncode != 0 and not figures:
        last = (done.stderr.strip().splitlines() or ["sin mensaje"])[-1]
        return unavailable(f"terminó con {done.returncode}: {last}"[:200])
    if not figures:
        return unavailable("no se reconocieron cifras en su salida")
    say(f"  {len(figures)} cifras en {time.perf_counter() - started:,.0f} s")
    return figures


def render(rows: list[tuple[Benchmark, Figure]], quick: bool) -> str:
    heads = ("figura", "objetivo", "medido", "proporción")
    table = [
        (f.name, f.goal, f.measured, f.ratio + (" ✗" if f.ok is False else " ✓" if f.ok else ""))
        for _, f in rows
    ]
    widths = [max(len(h), *(len(r[i]) for r in table)) if table else len(h) for i, h in enumerate(heads)]
    widths[0] = min(widths[0], 72)

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c[: widths[i]].ljust(widths[i]) for i, c in enumerate(cells)).rstrip()

    out = [line(heads), line(tuple("-" * w for w in widths))]
    current = None
    for (bench, fig), cells in zip(rows, table, strict=True):
        if bench.name != current:
            current = bench.name
            out.append(f"[{bench.name}] {bench.title}")
        out.append(line(cells))
        if fig.note:
            out.append(" " * 4 + fig.note)
    if quick:
        out.append("(--quick: tamaños pequeños; los objetivos son para 100 mil clientes)")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tamaños pequeños (prueba de humo)")
    parser.add_argument("--only", action="append", default=[], help="sólo estos benchmarks (coma o repetido)")
    parser.add_argument("--list", action="store_true", help="listar los benchmarks y salir")
    parser.add_argument("--json", type=Path, help="escribir también las cifras en JSON")
    parser.add_argument("--logs", type=Path, help="carpeta para la salida de cada benchmark")
    args = parser.parse_args(argv)
    if args.list:
        for b in BENCHMARKS:
            where = "" if b.runner else f"  ({b.module})"
            print(f"{b.name:<14} {b.title}{where}")
        return 0
    wanted = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in {b.name for b in BENCHMARKS}]
    if unknown:
        parser.error(f"benchmark desconocido: {', '.join(unknown)} (vea --list)")
    chosen = [b for b in BENCHMARKS if not wanted or b.name in wanted]
    logs = args.logs or Path(tempfile.mkdtemp(prefix="cmdesk-bench-logs-"))
    logs.mkdir(parents=True, exist_ok=True)

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    rows: list[tuple[Benchmark, Figure]] = []
    for bench in chosen:
        say(f"[{bench.name}] {bench.title}…")
        rows.extend((bench, f) for f in run_one(bench, args.quick, logs, say))
    print(render(rows, args.quick))
    print(f"\nSalida completa de cada benchmark en {logs}")
    if args.json:
        args.json.write_text(
            json.dumps([{"benchmark": b.name, **asdict(f)} for b, f in rows], indent=2, ensure_ascii=False)
        )
    return 1 if any(f.ok is False for _, f in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
