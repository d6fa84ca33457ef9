//! ITU-T G.711 companding: μ-law (PCMU, RTP payload type 0) and A-law (PCMA, payload type 8).
//!
//! Linear samples are 16-bit (`i16`); each code is one byte, so 160 bytes carry 20 ms at 8 kHz. Decoding is one
//! table look-up (the tables are built at compile time); encoding is a few bit operations with no table.

/// One of the two G.711 laws, as negotiated in SDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// μ-law, `PCMU/8000`, static RTP payload type 0.
    Pcmu,
    /// A-law, `PCMA/8000`, static RTP payload type 8.
    Pcma,
}

impl Codec {
    /// Both codecs, in the order the portal offers them.
    pub const ALL: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

    /// The static RTP payload type (RFC 3551).
    pub const fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The codec of a static payload type, if it is one of ours.
    pub const fn from_payload_type(payload_type: u8) -> Option<Codec> {
        match payload_type {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The SDP encoding name (`a=rtpmap:<pt> <name>/8000`).
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The code this law uses for a linear zero (what silence padding is made of).
    pub const fn silence_code(self) -> u8 {
        match self {
            Codec::Pcmu => ulaw_encode(0),
            Codec::Pcma => alaw_encode(0),
        }
    }

    /// Encodes one sample.
    #[inline]
    pub fn encode_sample(self, sample: i16) -> u8 {
        match self {
            Codec::Pcmu => ulaw_encode(sample),
            Codec::Pcma => alaw_encode(sample),
        }
    }

    /// Decodes one code.
    #[inline]
    pub fn decode_sample(self, code: u8) -> i16 {
        match self {
            Codec::Pcmu => ulaw_decode(code),
            Codec::Pcma => alaw_decode(code),
        }
    }

    /// Encodes `samples` into the first `samples.len()` bytes of `codes`.
    ///
    /// # Panics
    /// If `codes` is shorter than `samples`.
    pub fn encode(self, samples: &[i16], codes: &mut [u8]) {
        let codes = &mut codes[..samples.len()];
        // One branch per call rather than per sample lets the compiler keep each loop tight.
        match self {
            Codec::Pcmu => {
                for (code, &sample) in codes.iter_mut().zip(samples) {
                    *code = ulaw_encode(sample);
                }
            }
            Codec::Pcma => {
                for (code, &sample) in codes.iter_mut().zip(samples) {
                    *code = alaw_encode(sample);
                }
            }
        }
    }

    /// Decodes `codes` into the first `codes.len()` samples of `samples`.
    ///
    /// # Panics
    /// If `samples` is shorter than `codes`.
    pub fn decode(self, codes: &[u8], samples: &mut [i16]) {
        let table = match self {
            Codec::Pcmu => &ULAW_TO_LINEAR,
            Codec::Pcma => &ALAW_TO_LINEAR,
        };
        for (sample, &code) in samples[..codes.len()].iter_mut().zip(codes) {
            *sample = table[usize::from(code)];
        }
    }

    /// Decodes `codes` and appends the samples to `out`.
    pub fn decode_append(self, codes: &[u8], out: &mut Vec<i16>) {
        let start = out.len();
        out.resize(start + codes.len(), 0);
        self.decode(codes, &mut out[start..]);
    }
}

/// μ-law bias added to the magnitude so every segment starts on a power of two.
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude μ-law represents before the bias would overflow 15 bits.
const ULAW_CLIP: i32 = 32_635;

/// Encodes one linear sample as μ-law.
#[inline]
pub const fn ulaw_encode(sample: i16) -> u8 {
    let value = sample as i32;
    let sign: u8 = if value < 0 { 0x80 } else { 0 };
    let mut magnitude = if value < 0 { -value } else { value };
    if magnitude > ULAW_CLIP {
        magnitude = ULAW_CLIP;
    }
    magnitude += ULAW_BIAS;
    // After the bias the magnitude lies in 2^7..2^15; its top bit picks the segment (0..=7).
    let exponent = (31 - magnitude.leading_zeros() as i32) - 7;
    let mantissa = ((magnitude >> (exponent + 3)) & 0x0F) as u8;
    !(sign | ((exponent as u8) << 4) | mantissa)
}

/// Decodes one μ-law code (computed form; [`ulaw_decode`] uses the table built from it).
const fn ulaw_decode_computed(code: u8) -> i16 {
    let code = !code;
    let exponent = ((code >> 4) & 0x07) as i32;
    let mantissa = (code & 0x0F) as i32;
    // The decoded value sits in the middle of the quantisation interval.
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if code & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes one linear sample as A-law.
#[inline]
pub const fn alaw_encode(sample: i16) -> u8 {
    // A-law works on 13 bits. For negative samples the one's complement keeps both halves symmetric
    // (-1..=-8 map onto the same step as 0..=7).
    let value = sample as i32;
    let (mask, magnitude) = if value >= 0 {
        (0xD5u8, value >> 3)
    } else {
        (0x55u8, (!value) >> 3)
    };
    let code = if magnitude < 32 {
        // Segment 0 spans 0..32 with the same step as segment 1.
        (magnitude >> 1) as u8
    } else {
        let segment = (31 - magnitude.leading_zeros() as i32) - 4;
        ((segment as u8) << 4) | ((magnitude >> segment) & 0x0F) as u8
    };
    code ^ mask
}

/// Decodes one A-law code (computed form; [`alaw_decode`] uses the table built from it).
const fn alaw_decode_computed(code: u8) -> i16 {
    let code = code ^ 0x55;
    let segment = ((code >> 4) & 0x07) as i32;
    let mantissa = (code & 0x0F) as i32;
    let magnitude = if segment == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (segment - 1)
    };
    if code & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const fn build_table(law: Codec) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = match law {
            Codec::Pcmu => ulaw_decode_computed(code as u8),
            Codec::Pcma => alaw_decode_computed(code as u8),
        };
        code += 1;
    }
    table
}

static ULAW_TO_LINEAR: [i16; 256] = build_table(Codec::Pcmu);
static ALAW_TO_LINEAR: [i16; 256] = build_table(Codec::Pcma);

/// Decodes one μ-law code.
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_TO_LINEAR[usize::from(code)]
}

/// Decodes one A-law code.
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_TO_LINEAR[usize::from(code)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_codes() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x00), -32_124);
        assert_eq!(ulaw_decode(0x80), 32_124);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32_256);
        assert_eq!(alaw_decode(0x2A), -32_256);
        assert_eq!(Codec::Pcmu.silence_code(), 0xFF);
        assert_eq!(Codec::Pcma.silence_code(), 0xD5);
    }

    #[test]
    fn every_ulaw_code_survives_decode_then_encode() {
        for code in 0..=255u8 {
            let back = ulaw_encode(ulaw_decode(code));
            // 0x7F is μ-law's negative zero: it decodes to 0, which encodes as positive zero 0xFF.
            let expected = if code == 0x7F { 0xFF } else { code };
            assert_eq!(back, expected, "code {code:#04x}");
        }
    }

    #[test]
    fn every_alaw_code_survives_decode_then_encode() {
        for code in 0..=255u8 {
            assert_eq!(alaw_encode(alaw_decode(code)), code, "code {code:#04x}");
        }
    }

    /// Half the quantisation step of the μ-law segment `code` belongs to.
    fn ulaw_half_step(code: u8) -> i32 {
        let exponent = ((!code >> 4) & 0x07) as i32;
        4 << exponent
    }

    /// Half the quantisation step of the A-law segment `code` belongs to.
    fn alaw_half_step(code: u8) -> i32 {
        let segment = (((code ^ 0x55) >> 4) & 0x07) as i32;
        4 << segment.max(1)
    }

    #[test]
    fn every_sample_decodes_within_half_a_ulaw_step() {
        for sample in i16::MIN..=i16::MAX {
            let code = ulaw_encode(sample);
            let decoded = i32::from(ulaw_decode(code));
            let original = i32::from(sample);
            if original.abs() <= ULAW_CLIP {
                let error = (decoded - original).abs();
                assert!(
                    error <= ulaw_half_step(code),
                    "sample {sample}: decoded {decoded}"
                );
            } else {
                // Beyond the clip level μ-law saturates at its largest code.
                assert_eq!(decoded, 32_124 * original.signum(), "sample {sample}");
            }
        }
    }

    #[test]
    fn every_sample_decodes_within_half_an_alaw_step() {
        for sample in i16::MIN..=i16::MAX {
            let code = alaw_encode(sample);
            let decoded = i32::from(alaw_decode(code));
            let error = (decoded - i32::from(sample)).abs();
            assert!(
                error <= alaw_half_step(code),
                "sample {sample}: decoded {decoded}"
            );
        }
    }

    #[test]
    fn encoding_is_monotonic() {
        let mut previous_u = i32::MIN;
        let mut previous_a = i32::MIN;
        for sample in i16::MIN..=i16::MAX {
            let u = i32::from(ulaw_decode(ulaw_encode(sample)));
            let a = i32::from(alaw_decode(alaw_encode(sample)));
            assert!(u >= previous_u && a >= previous_a, "sample {sample}");
            previous_u = u;
            previous_a = a;
        }
    }

    #[test]
    fn slice_codecs_match_sample_codecs() {
        let samples: Vec<i16> = (0..1000)
            .map(|i| ((i * 7919) % 65_536 - 32_768) as i16)
            .collect();
        for codec in Codec::ALL {
            let mut codes = vec![0u8; samples.len()];
            codec.encode(&samples, &mut codes);
            let mut decoded = vec![0i16; samples.len()];
            codec.decode(&codes, &mut decoded);
            for (i, &sample) in samples.iter().enumerate() {
                assert_eq!(codes[i], codec.encode_sample(sample));
                assert_eq!(decoded[i], codec.decode_sample(codes[i]));
            }
            let mut appended = vec![1i16];
            codec.decode_append(&codes, &mut appended);
            assert_eq!(&appended[1..], &decoded[..]);
        }
    }

    #[test]
    fn payload_types_round_trip() {
        for codec in Codec::ALL {
            assert_eq!(Codec::from_payload_type(codec.payload_type()), Some(codec));
        }
        assert_eq!(Codec::from_payload_type(101), None);
    }
}
