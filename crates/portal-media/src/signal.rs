//! Small signal helpers shared by the generated prompt tone, the DTMF generators and the tests: levels in dBm0
//! and sine synthesis.

use std::f32::consts::TAU;

use crate::rtp::CLOCK_RATE;

/// Peak amplitude (16-bit scale) of a sine at 0 dBm0: 3.17 dB below the G.711 overload level of 32 636.
pub const ZERO_DBM0_AMPLITUDE: f32 = 22_652.0;

/// Peak amplitude (16-bit scale) of a sine at `dbm0`.
pub fn dbm0_to_amplitude(dbm0: f32) -> f32 {
    ZERO_DBM0_AMPLITUDE * 10f32.powf(dbm0 / 20.0)
}

/// The level in dBm0 of a sine with peak `amplitude` (16-bit scale).
pub fn amplitude_to_dbm0(amplitude: f32) -> f32 {
    20.0 * (amplitude / ZERO_DBM0_AMPLITUDE).log10()
}

/// Adds a sine of `frequency` Hz and peak `amplitude` at 8 kHz onto `samples`, starting at phase zero,
/// saturating at the 16-bit limits.
pub fn add_sine(samples: &mut [i16], frequency: f32, amplitude: f32) {
    let step = TAU * frequency / CLOCK_RATE as f32;
    for (n, sample) in samples.iter_mut().enumerate() {
        // Phase from the index (not accumulated) so long tones do not drift.
        let phase = (step as f64 * n as f64) % std::f64::consts::TAU;
        let value = f32::from(*sample) + amplitude * (phase as f32).sin();
        *sample = value
            .round()
            .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16;
    }
}

/// `len` samples of a sine of `frequency` Hz and peak `amplitude` at 8 kHz.
pub fn sine(frequency: f32, amplitude: f32, len: usize) -> Vec<i16> {
    let mut samples = vec![0; len];
    add_sine(&mut samples, frequency, amplitude);
    samples
}

/// Mean power of `samples` (mean of squares, 16-bit scale).
pub fn mean_square(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    sum / samples.len() as f64
}

/// The level in dBm0 of a block, as the level of a sine with the same mean power; very low for silence.
pub fn block_dbm0(samples: &[i16]) -> f32 {
    let power = mean_square(samples);
    // A sine's mean square is half its peak squared.
    let amplitude = (2.0 * power).sqrt().max(1e-3) as f32;
    amplitude_to_dbm0(amplitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_convert_both_ways() {
        assert!((dbm0_to_amplitude(0.0) - ZERO_DBM0_AMPLITUDE).abs() < 0.01);
        assert!((dbm0_to_amplitude(-20.0) - 2265.2).abs() < 0.1);
        assert!((amplitude_to_dbm0(dbm0_to_amplitude(-13.5)) + 13.5).abs() < 1e-4);
    }

    #[test]
    fn sine_has_its_level() {
        let tone = sine(1000.0, dbm0_to_amplitude(-10.0), 8000);
        assert!((block_dbm0(&tone) + 10.0).abs() < 0.05);
        assert!(block_dbm0(&[0; 160]) < -100.0);
        assert_eq!(mean_square(&[]), 0.0);
    }

    #[test]
    fn add_sine_saturates() {
        let mut samples = vec![30_000i16; 16];
        add_sine(&mut samples, 1000.0, 20_000.0);
        assert!(samples.contains(&i16::MAX));
    }
}
