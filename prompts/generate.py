#!/usr/bin/env python3
"""Speaks every prompt of prompts/catalog.toml into prompts/<lang>/<id>.wav (8 kHz mono 16-bit PCM).

Needs Debian's espeak-ng and sox (apt-get install espeak-ng sox). The WAVs are committed, so a fresh machine
needs neither; rerun this after changing a text: python3 prompts/generate.py [--check | --missing]
`tone` is synthesized (a 1 kHz beep), not spoken. --check only reports prompts whose WAV (or text in a language)
is missing; --missing speaks only the prompts whose WAV is missing.
A prompt of kind "word" (portal_core::speech joins words at run time) is trimmed first: espeak-ng ends every text
with a third of a second of digital silence, a pause between joined words; the 50 ms padding of every prompt stays.
"""

import array
import subprocess
import sys
import tempfile
import tomllib
import wave
from pathlib import Path

HERE = Path(__file__).resolve().parent
VOICES = {"en": "en-us", "es": "es"}
WORDS_PER_MINUTE = "165"


def speak(text: str, voice: str, target: Path, word: bool = False) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", WORDS_PER_MINUTE, "-w", str(raw), text], check=True)
        if word:
            trim_silence(raw)
        # -D: no dither, so the same text always gives the same bytes; 50 ms of silence at each end.
        subprocess.run(
            ["sox", "-D", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(target),
             "gain", "-n", "-3", "pad", "0.05", "0.05"],
            check=True,
        )


def trim_silence(path: Path) -> None:
    """Drops the samples that are exactly zero at both ends (espeak-ng's silence is digital, so no sound is lost)."""
    with wave.open(str(path), "rb") as source:
        params = source.getparams()
        samples = array.array("h", source.readframes(source.getnframes()))
    assert params.sampwidth == 2 and params.nchannels == 1, f"{path}: espeak-ng wrote {params}"
    sounding = [i for i, sample in enumerate(samples) if sample != 0]
    if sounding:
        samples = samples[sounding[0]:sounding[-1] + 1]
    with wave.open(str(path), "wb") as target:
        target.setparams(params)
        target.writeframes(samples.tobytes())


def beep(target: Path) -> None:
    subprocess.run(
        ["sox", "-D", "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(target),
         "synth", "0.45", "sine", "1000", "vol", "0.35", "fade", "0.01", "0.45", "0.01"],
        check=True,
    )


def main() -> int:
    check_only = "--check" in sys.argv[1:]
    missing_only = "--missing" in sys.argv[1:]
    catalog = tomllib.loads((HERE / "catalog.toml").read_text(encoding="utf-8"))["prompts"]
    missing = []
    for language, voice in VOICES.items():
        folder = HERE / language
        folder.mkdir(exist_ok=True)
        for prompt_id, texts in sorted(catalog.items()):
            target = folder / f"{prompt_id}.wav"
            if check_only:
                if language not in texts:
                    missing.append(f"{language} text of {prompt_id}")
                if not target.exists():
                    missing.append(str(target))
                continue
            if missing_only and target.exists():
                continue
            if prompt_id == "tone":
                beep(target)
            elif language in texts:
                speak(texts[language], voice, target, word=texts.get("kind") == "word")
    for path in missing:
        print(f"missing: {path}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
