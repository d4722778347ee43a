"""Intent accuracy per language: precision, recall and F1 on a held-out split of bot/data.

Run ``make bench-nlu`` or ``.venv-rasa/bin/python bench/nlu.py [--mode bilingual|
per-language|both] [--serve] [--out FILE]`` (any other interpreter re-runs the script
in ``.venv-rasa``, Rasa's environment).

1. Reads the NLU examples of ``bot/data/nlu/``: files under ``nlu/de/`` are German, the
   others English. Splits every (intent, language) group into train and held-out
   (``--held-out 0.2``, shuffled with ``--seed 42``: stratified, the same split each run;
   ``--seeds 42,7,2026`` repeats everything below once per seed and prints the mean).
   Regexes and lookup tables (``nlu/patterns.yml``) are features, not examples: they go
   to every training as they are.
2. Trains a model on the train split with ``config.yml`` (or ``--config FILE``, to try a
   pipeline before changing it), the domain and the rules, as ``scripts/train.sh`` does,
   into a temporary directory (never ``bot/models``):
   ``bilingual`` is one model on both languages, ``per-language`` one model per language.
   Training time, the trainer's peak RSS and the model's size are kept.
3. Loads each model in this process (``rasa.core.agent.Agent``) and parses every held-out
   example: per language and intent precision, recall and F1, the macro F1 per language
   and the target (macro F1 >= 0.95 in each language) met or NOT met. ``nlu_fallback``
   (the classifier unsure) counts as a wrong intent.
4. With ``--serve``: starts ``rasa run --enable-api`` on each model (127.0.0.1, a free
   port, a random token) and measures start-up to ``/status`` with a model, the server's
   RSS once ready (VmRSS of its process tree) and ``/model/parse`` p50/p95 at one client.

Exit code 1 when a language misses the target (for the models trained; with several
seeds, in any seed or in the mean).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RASA_PYTHON = REPO / ".venv-rasa" / "bin" / "python"
NLU_DIR = REPO / "bot" / "data" / "nlu"
TARGET_F1 = 0.95
FALLBACK = "nlu_fallback"
LANGUAGES = ("en", "de")

# Quieter imports of TensorFlow and Rasa (their start-up warnings are not ours to fix).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
warnings.filterwarnings("ignore", category=DeprecationWarning)

try:
    import yaml
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog
except ImportError:  # not Rasa's environment: run again in it
    if not RASA_PYTHON.exists():
        sys.exit("Rasa is not installed in .venv-rasa (run `make install`)")
    if Path(sys.executable).resolve() == RASA_PYTHON.resolve():
        raise
    os.execv(str(RASA_PYTHON), [str(RASA_PYTHON), __file__, *sys.argv[1:]])


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    language: str


@dataclass
class ModelRun:
    """One trained model and what was measured on it."""

    name: str
    languages: tuple[str, ...]
    train_seconds: float = 0.0
    train_peak_rss_mb: float = 0.0
    model_mb: float = 0.0
    load_seconds: float = 0.0
    parse_inprocess_p50_ms: float = 0.0
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    misrouted: dict[str, float] = field(default_factory=dict)
    serve: dict[str, float] = field(default_factory=dict)


def language_of(path: Path) -> str:
    return "de" if "de" in path.relative_to(NLU_DIR).parts[:-1] else "en"


def read_examples() -> list[Example]:
    """Every intent example of ``bot/data/nlu`` with its language."""
    examples: list[Example] = []
    for path in sorted(NLU_DIR.rglob("*.yml")):
        language = language_of(path)
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in document.get("nlu") or []:
            if "intent" not in block:
                continue
            for line in str(block.get("examples", "")).splitlines():
                text = line.strip()
                if not text.startswith("- "):
                    continue
                # entity annotations [value](entity) count as their value
                text = re.sub(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}", r"\1\2", text[2:])
                examples.append(Example(text.strip(), block["intent"], language))
    # No leakage: a text (case and spaces aside) counts once, so a held-out example is
    # never also a training one (in either language: the bilingual model sees both).
    unique: dict[str, Example] = {}
    for example in examples:
        unique.setdefault(re.sub(r"\s+", " ", example.text.lower()), example)
    return list(unique.values())


def split(
    examples: list[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Stratified split per (intent, language): the same train/held-out for the same seed."""
    groups: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for example in examples:
        groups[(example.intent, example.language)].append(example)
    rng = random.Random(seed)
    train: list[Example] = []
    held_out: list[Example] = []
    for key in sorted(groups):
        group = sorted(groups[key], key=lambda e: e.text)
        rng.shuffle(group)
        count = max(1, round(len(group) * fraction)) if len(group) >= 2 else 0
        held_out.extend(group[:count])
        train.extend(group[count:])
    return train, held_out


def actions_of_intents() -> dict[str, str]:
    """Intent -> the action its rule runs (``bot/data/rules``): what a misread costs."""
    actions: dict[str, str] = {}
    for path in sorted((REPO / "bot" / "data" / "rules").glob("*.yml")):
        for rule in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("rules") or []:
            steps = rule.get("steps") or []
            if len(steps) >= 2 and "intent" in steps[0] and "action" in steps[1]:
                actions.setdefault(steps[0]["intent"], steps[1]["action"])
    return actions


def pattern_blocks() -> list[dict[str, Any]]:
    """The NLU data's regexes, lookup tables and synonyms: features, not examples to split."""
    blocks: list[dict[str, Any]] = []
    for path in sorted(NLU_DIR.rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        blocks += [b for b in document.get("nlu") or [] if "intent" not in b]
    return blocks


def write_nlu(examples: list[Example], path: Path) -> None:
    by_intent: dict[str, list[str]] = defaultdict(list)
    for example in examples:
        by_intent[example.intent].append(example.text)
    lines = ['version: "3.1"', "nlu:"]
    for intent in sorted(by_intent):
        lines += [f"  - intent: {intent}", "    examples: |"]
        lines += [f"      - {text}" for text in by_intent[intent]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if blocks := pattern_blocks():
        patterns = {"version": "3.1", "nlu": blocks}
        (path.parent / "patterns.yml").write_text(
            yaml.safe_dump(patterns, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )


def write_config(path: Path, epochs: int | None, source: Path | None = None) -> None:
    config = yaml.safe_load((source or REPO / "config.yml").read_text(encoding="utf-8"))
    if epochs is not None:
        for component in config["pipeline"]:
            if component.get("name") == "DIETClassifier":
                component["epochs"] = epochs
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def rasa_env() -> dict[str, str]:
    return {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONUNBUFFERED": "1",
    }


def train(
    run: ModelRun,
    examples: list[Example],
    work: Path,
    epochs: int | None,
    source: Path | None = None,
) -> Path:
    """``rasa train`` on the examples (plus domain and rules) into ``work``; the model file."""
    data = work / "data"
    (data / "rules").mkdir(parents=True)
    write_nlu(examples, data / "nlu.yml")
    for rules in (REPO / "bot" / "data" / "rules").glob("*.yml"):
        shutil.copy(rules, data / "rules" / rules.name)
    config = work / "config.yml"
    write_config(config, epochs, source)
    log_path = work / "train.log"
    argv = [
        str(REPO / ".venv-rasa" / "bin" / "rasa"),
        "train",
        "--config",
        str(config),
        "--domain",
        str(REPO / "bot" / "domain"),
        "--data",
        str(data),
        "--out",
        str(work / "models"),
        "--fixed-model-name",
        run.name,
    ]
    print(f"training {run.name} ({'+'.join(run.languages)}, {len(examples)} examples)…", flush=True)
    start = time.perf_counter()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv, cwd=work, env=rasa_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert proc.stdout is not None
        shown = -1
        tail = b""
        while chunk := proc.stdout.read1(4096):  # type: ignore[attr-defined]
            log.write(chunk)
            tail = (tail + chunk)[-400:]
            found = re.findall(rb"Epochs:\s+(\d+)%", tail)
            if found and (percent := int(found[-1])) // 10 > shown:
                shown = percent // 10
                elapsed = time.perf_counter() - start
                print(f"  DIET epochs {percent:3d} %  ({elapsed:.0f} s)", flush=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    run.train_seconds = time.perf_counter() - start
    run.train_peak_rss_mb = usage.ru_maxrss / 1024
    if proc.returncode != 0:
        sys.stderr.write(log_path.read_text(errors="replace")[-5000:])
        sys.exit(f"rasa train failed for {run.name} (log: {log_path})")
    model = work / "models" / f"{run.name}.tar.gz"
    run.model_mb = model.stat().st_size / 1e6
    print(f"  trained in {run.train_seconds:.0f} s, model {run.model_mb:.1f} MB", flush=True)
    return model


def scores(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Per-intent precision/recall/F1 and macro F1 of (true, predicted) pairs."""
    intents = sorted({true for true, _ in pairs})
    per_intent: dict[str, dict[str, float]] = {}
    for intent in intents:
        tp = sum(1 for t, p in pairs if t == intent and p == intent)
        fp = sum(1 for t, p in pairs if t != intent and p == intent)
        fn = sum(1 for t, p in pairs if t == intent and p != intent)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[intent] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": tp + fn,
        }
    macro = sum(s["f1"] for s in per_intent.values()) / len(per_intent) if per_intent else 0.0
    accuracy = sum(1 for t, p in pairs if t == p) / len(pairs) if pairs else 0.0
    actions = actions_of_intents()
    same_action = sum(1 for t, p in pairs if t == p or actions.get(t, t) == actions.get(p, p))
    return {
        "right_action": same_action / len(pairs) if pairs else 0.0,
        "intents": per_intent,
        "macro_f1": macro,
        "accuracy": accuracy,
        "n": len(pairs),
        "fallbacks": sum(1 for _, p in pairs if p == FALLBACK),
    }


def rss_mb(pid: int | str = "self") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_rss_mb(pid: int) -> float:
    """VmRSS of a process and its descendants."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children[parent].append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += rss_mb(current)
        todo.extend(children.get(current, []))
    return total


def percentile(samples: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (as bench/_stats.py)."""
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


async def evaluate(run: ModelRun, model: Path, held_out: list[Example]) -> list[str]:
    """Load the model here and parse the held-out examples; the misread ones, as lines."""
    configure_structlog(logging.WARNING)  # not a debug line per parsed message
    for name in ("rasa", "tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.WARNING)
    before = rss_mb()
    start = time.perf_counter()
    agent = Agent.load(str(model))
    run.load_seconds = time.perf_counter() - start
    print(
        f"  loaded in {run.load_seconds:.1f} s (this process +{rss_mb() - before:.0f} MB RSS)",
        flush=True,
    )
    await agent.parse_message("warm up")
    timings: list[float] = []
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    misrouted: dict[str, list[tuple[str, str]]] = defaultdict(list)
    errors: list[str] = []
    for example in held_out:
        start = time.perf_counter()
        parsed = await agent.parse_message(example.text)
        timings.append(time.perf_counter() - start)
        predicted = str((parsed.get("intent") or {}).get("name"))
        if example.language in run.languages:
            pairs[example.language].append((example.intent, predicted))
            if predicted != example.intent:
                confidence = (parsed.get("intent") or {}).get("confidence") or 0.0
                errors.append(
                    f"  {run.name} {example.language} {example.text!r}: {example.intent} "
                    f"read as {predicted} ({confidence:.2f})"
                )
        else:
            misrouted[example.language].append((example.intent, predicted))
    run.parse_inprocess_p50_ms = percentile(timings, 50) * 1000
    run.scores = {language: scores(pairs[language]) for language in sorted(pairs)}
    run.misrouted = {lang: scores(p)["macro_f1"] for lang, p in sorted(misrouted.items())}
    return errors


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(run: ModelRun, model: Path, texts: list[str], requests: int, work: Path) -> None:
    """Start ``rasa run`` on the model; start-up, RSS and ``/model/parse`` latency."""
    port, token = free_port(), secrets.token_hex(16)
    argv = [
        str(REPO / ".venv-rasa" / "bin" / "rasa"),
        "run",
        "--enable-api",
        f"--auth-token={token}",
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "--model",
        str(model),
    ]
    url = f"http://127.0.0.1:{port}"
    print(f"serving {run.name} on {url}…", flush=True)
    with (work / "serve.log").open("wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=work, env=rasa_env(), stdout=log, stderr=log)
        try:
            while True:
                if proc.poll() is not None or time.perf_counter() - start > 300:
                    sys.exit(f"rasa run did not become ready (log: {work / 'serve.log'})")
                try:
                    with urllib.request.urlopen(f"{url}/status?token={token}", timeout=2) as r:
                        if json.load(r).get("model_id"):
                            break
                except (urllib.error.URLError, OSError, ValueError):
                    pass
                time.sleep(0.2)
            run.serve["startup_s"] = time.perf_counter() - start
            run.serve["rss_mb"] = tree_rss_mb(proc.pid)
            timings = []
            for index in range(5 + requests):
                body = json.dumps({"text": texts[index % len(texts)]}).encode()
                request = urllib.request.Request(
                    f"{url}/model/parse?token={token}",
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
                began = time.perf_counter()
                with urllib.request.urlopen(request, timeout=30) as r:
                    json.load(r)
                if index >= 5:  # warm-up calls are not counted
                    timings.append(time.perf_counter() - began)
            run.serve["parse_p50_ms"] = percentile(timings, 50) * 1000
            run.serve["parse_p95_ms"] = percentile(timings, 95) * 1000
            run.serve["rss_after_parse_mb"] = tree_rss_mb(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    print(
        f"  ready in {run.serve['startup_s']:.1f} s, RSS {run.serve['rss_mb']:.0f} MB, "
        f"/model/parse p50 {run.serve['parse_p50_ms']:.1f} ms",
        flush=True,
    )


def print_scores(run: ModelRun) -> None:
    for language, result in run.scores.items():
        print(
            f"\n{run.name}, {language}: {result['n']} held-out examples, "
            f"accuracy {result['accuracy']:.3f}, {result['fallbacks']} nlu_fallback, "
            f"right action {result['right_action']:.3f} (a misread intent whose rule runs "
            "the same action, e.g. inform for deny, changes nothing)"
        )
        print(f"  {'intent':<16} {'precision':>9} {'recall':>7} {'F1':>6} {'n':>4}")
        for intent, s in result["intents"].items():
            print(
                f"  {intent:<16} {s['precision']:9.3f} {s['recall']:7.3f} "
                f"{s['f1']:6.3f} {s['support']:4d}"
            )
        met = "met" if result["macro_f1"] >= TARGET_F1 else "NOT met"
        print(f"  {'macro F1':<16} {'':>9} {'':>7} {result['macro_f1']:6.3f}")
        print(f"  target macro F1 >= {TARGET_F1} ({language}): {met}")


def print_summary(runs: list[ModelRun], served: bool) -> None:
    print("\nsummary (one line per model)")
    header = f"  {'model':<8} {'train s':>7} {'peak MB':>7} {'size MB':>7} "
    header += " ".join(f"{'F1 ' + lang:>6}" for lang in LANGUAGES)
    if served:
        header += f" {'start s':>7} {'RSS MB':>6} {'parse p50':>9}"
    print(header)
    for run in runs:
        line = f"  {run.name:<8} {run.train_seconds:7.0f} {run.train_peak_rss_mb:7.0f} "
        line += f"{run.model_mb:7.1f} "
        line += " ".join(
            f"{run.scores[lang]['macro_f1']:6.3f}" if lang in run.scores else f"{'-':>6}"
            for lang in LANGUAGES
        )
        if served and run.serve:
            line += (
                f" {run.serve['startup_s']:7.1f} {run.serve['rss_mb']:6.0f} "
                f"{run.serve['parse_p50_ms']:7.1f} ms"
            )
        print(line)
    for run in runs:
        for language, f1 in run.misrouted.items():
            print(f"  {run.name} on {language} messages (wrongly routed): macro F1 {f1:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mode",
        choices=("bilingual", "per-language", "both"),
        default="bilingual",
        help="one model on both languages (shipped), one per language, or both",
    )
    parser.add_argument("--seed", type=int, default=42, help="split seed")
    parser.add_argument(
        "--seeds",
        help="comma-separated split seeds (e.g. 42,7,2026): one split and training per seed, "
        "the figures per seed and their mean (overrides --seed)",
    )
    parser.add_argument("--held-out", type=float, default=0.2, help="held-out fraction")
    parser.add_argument("--epochs", type=int, help="DIET epochs (default: config.yml's)")
    parser.add_argument(
        "--config", type=Path, help="a Rasa config to try instead of config.yml (its pipeline)"
    )
    parser.add_argument("--serve", action="store_true", help="also measure rasa run")
    parser.add_argument("--parse-requests", type=int, default=200, help="with --serve")
    parser.add_argument("--keep", type=Path, help="work here and keep the models")
    parser.add_argument("--out", type=Path, help="write the figures as JSON")
    opts = parser.parse_args(argv)
    if not 0 < opts.held_out < 1:
        parser.error("--held-out is a fraction between 0 and 1")
    try:
        seeds = [int(s) for s in opts.seeds.split(",")] if opts.seeds else [opts.seed]
    except ValueError:
        parser.error("--seeds is a comma-separated list of integers")

    examples = read_examples()
    counts = Counter(e.language for e in examples)
    print(
        f"{len(examples)} examples ({', '.join(f'{n} {lang}' for lang, n in counts.items())}), "
        f"{len({e.intent for e in examples})} intents; seeds {', '.join(map(str, seeds))}",
        flush=True,
    )
    plans: list[tuple[str, tuple[str, ...]]] = []
    if opts.mode in ("bilingual", "both"):
        plans.append(("bilingual", LANGUAGES))
    if opts.mode in ("per-language", "both"):
        plans += [(f"only-{lang}", (lang,)) for lang in LANGUAGES]

    base = opts.keep or Path(tempfile.mkdtemp(prefix="bench-nlu-"))
    by_seed: dict[int, list[ModelRun]] = {}
    try:
        for seed in seeds:
            train_set, held_out = split(examples, opts.held_out, seed)
            print(
                f"seed {seed}: train {len(train_set)}, held-out {len(held_out)} "
                f"({opts.held_out:.0%} per intent and language)",
                flush=True,
            )
            runs: list[ModelRun] = []
            misread: list[str] = []
            for name, languages in plans:
                run = ModelRun(name, languages)
                work = base / f"seed-{seed}" / name
                if work.exists():
                    shutil.rmtree(work)
                work.mkdir(parents=True)
                chosen = [e for e in train_set if e.language in languages]
                model = train(run, chosen, work, opts.epochs, opts.config)
                misread += asyncio.run(evaluate(run, model, held_out))
                if opts.serve:
                    texts = [e.text for e in held_out if e.language in languages]
                    serve(run, model, texts, opts.parse_requests, work)
                runs.append(run)
            by_seed[seed] = runs
            if len(seeds) > 1:
                print(f"\n=== seed {seed} ===")
            for run in runs:
                print_scores(run)
            if misread:
                print(f"\nmisread held-out examples, seed {seed} ({len(misread)}):")
                print("\n".join(misread))
            print_summary(runs, opts.serve)
    finally:
        if opts.keep is None:
            shutil.rmtree(base, ignore_errors=True)

    # The mean macro F1 per model and language over the seeds (one seed: that seed's).
    means: dict[str, dict[str, float]] = defaultdict(dict)
    for name, languages in plans:
        for lang in languages:
            values = [
                run.scores[lang]["macro_f1"]
                for runs in by_seed.values()
                for run in runs
                if run.name == name and lang in run.scores
            ]
            if values:
                means[name][lang] = sum(values) / len(values)
    if len(seeds) > 1:
        print("\nmacro F1 per seed")
        print(
            f"  {'model':<10} {'seed':>6} " + " ".join(f"{'F1 ' + lang:>6}" for lang in LANGUAGES)
        )
        for seed, runs in by_seed.items():
            for run in runs:
                line = f"  {run.name:<10} {seed:6d} "
                line += " ".join(
                    f"{run.scores[lang]['macro_f1']:6.3f}" if lang in run.scores else f"{'-':>6}"
                    for lang in LANGUAGES
                )
                print(line)
        for name, mean_f1 in means.items():
            line = f"  {name:<10} {'mean':>6} "
            line += " ".join(
                f"{mean_f1[lang]:6.3f}" if lang in mean_f1 else f"{'-':>6}" for lang in LANGUAGES
            )
            print(line)
    if opts.out:
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        figures: Any = [asdict(r) for r in by_seed[seeds[0]]]
        if len(seeds) > 1:
            figures = {
                "seeds": {str(seed): [asdict(r) for r in runs] for seed, runs in by_seed.items()},
                "mean_macro_f1": means,
            }
        opts.out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
        print(f"\nwritten: {opts.out}")
    # Target: every seed's macro F1 and their mean, in each language.
    missed = sorted(
        {
            f"{run.name}/{lang}" + (f" (seed {seed})" if len(seeds) > 1 else "")
            for seed, runs in by_seed.items()
            for run in runs
            for lang, result in run.scores.items()
            if result["macro_f1"] < TARGET_F1
        }
        | {
            f"{name}/{lang} (mean)"
            for name, mean_f1 in means.items()
            for lang, f1 in mean_f1.items()
            if len(seeds) > 1 and f1 < TARGET_F1
        }
    )
    print(
        f"\ntarget macro F1 >= {TARGET_F1} in each language: "
        + (f"NOT met ({', '.join(missed)})" if missed else "met")
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
