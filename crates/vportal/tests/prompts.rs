//! The committed prompt recordings: one WAV per prompt and language, in the format media expects.

use std::path::PathBuf;

use portal_core::PromptId;

fn prompts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../prompts")
}

/// (format tag, channels, sample rate, bits per sample, data bytes) of a RIFF/WAVE file.
fn wav_format(bytes: &[u8]) -> Option<(u16, u16, u32, u16, usize)> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let (mut format, mut data) = (None, None);
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().ok()?) as usize;
        let body = bytes.get(at + 8..at + 8 + size)?;
        match id {
            b"fmt " if size >= 16 => {
                let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
                let rate = u32::from_le_bytes(body[4..8].try_into().ok()?);
                format = Some((u16_at(0), u16_at(2), rate, u16_at(14)));
            }
            b"data" => data = Some(size),
            _ => {}
        }
        at += 8 + size + size % 2;
    }
    let (tag, channels, rate, bits) = format?;
    Some((tag, channels, rate, bits, data?))
}

#[test]
fn every_prompt_has_an_english_and_a_spanish_recording_in_8_khz_mono_16_bit_pcm() {
    for language in ["en", "es"] {
        for prompt in PromptId::ALL {
            let path = prompts_dir()
                .join(language)
                .join(format!("{}.wav", prompt.id()));
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let (tag, channels, rate, bits, data) = wav_format(&bytes)
                .unwrap_or_else(|| panic!("{} is not a WAV file", path.display()));
            assert_eq!(
                (tag, channels, rate, bits),
                (1, 1, 8000, 16),
                "{}",
                path.display()
            );
            // At least a quarter of a second of audio.
            assert!(data >= 4000, "{} holds only {data} bytes", path.display());
        }
    }
}
