#!/usr/bin/env python3
"""Speaks every prompt of prompts/catalog.toml into prompts/<lang>/<id>.wav (8 kHz mono 16-bit PCM).

Needs Debian's espeak-ng and sox (apt-get install espeak-ng sox). The WAVs are committed, so a fresh machine
needs neither; rerun this after changing a text: python3 prompts/generate.py [--check]
`tone` is synthesized (a 1 kHz beep), not spoken. --check only reports prompts whose WAV is missing.
"""

import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
VOICES = {"en": "en-us", "es": "es"}
WORDS_PER_MINUTE = "165"


def speak(text: str, voice: str, target: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", WORDS_PER_MINUTE, "-w", str(raw), text], check=True)
        # -D: no dither, so the same text always gives the same bytes; 50 ms of silence at each end.
        subprocess.run(
            ["sox", "-D", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(target),
             "gain", "-n", "-3", "pad", "0.05", "0.05"],
            check=True,
        )


def beep(target: Path) -> None:
    subprocess.run(
        ["sox", "-D", "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(target),
         "synth", "0.45", "sine", "1000", "vol", "0.35", "fade", "0.01", "0.45", "0.01"],
        check=True,
    )


def main() -> int:
    check_only = "--check" in sys.argv[1:]
    catalog = tomllib.loads((HERE / "catalog.toml").read_text(encoding="utf-8"))["prompts"]
    missing = []
    for language, voice in VOICES.items():
        folder = HERE / language
        folder.mkdir(exist_ok=True)
        for prompt_id, texts in sorted(catalog.items()):
            target = folder / f"{prompt_id}.wav"
            if check_only:
                if not target.exists():
                    missing.append(str(target))
                continue
            if prompt_id == "tone":
                beep(target)
            elif language in texts:
                speak(texts[language], voice, target)
    for path in missing:
        print(f"missing: {path}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
