//! Recordings on disk: 8 kHz mono 16-bit PCM WAV, written durably before the database row that names them.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{Result, StoreError};

/// Sample rate of every recording (the telephone rate).
pub const SAMPLE_RATE: u32 = 8000;
const HEADER_LEN: usize = 44;

/// The canonical 44-byte RIFF/WAVE header followed by little-endian samples.
pub(crate) fn encode(samples: &[i16]) -> Vec<u8> {
    let data_len = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX - 36);
    let channels: u16 = 1;
    let bits: u16 = 16;
    let block_align = channels * bits / 8;
    let mut out = Vec::with_capacity(HEADER_LEN + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * u32::from(block_align)).to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

/// Writes `bytes` to `temp`, fsyncs it, renames it to `path` and fsyncs the directory, so after a crash the
/// file is either absent or complete.
pub(crate) fn write_durably(
    dir: &Path,
    temp_name: &str,
    final_name: &str,
    bytes: &[u8],
) -> Result<()> {
    let temp = dir.join(temp_name);
    let path = dir.join(final_name);
    let result = (|| {
        let mut file = fs::File::create(&temp).map_err(StoreError::io(&temp))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(StoreError::io(&temp))?;
        fs::rename(&temp, &path).map_err(StoreError::io(&path))?;
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(StoreError::io(dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_8khz_mono_16bit_pcm() {
        let bytes = encode(&[0, 1, -1, i16::MAX]);
        assert_eq!(bytes.len(), 44 + 8);
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 36 + 8);
        assert_eq!(&bytes[8..16], b"WAVEfmt ");
        assert_eq!(u16::from_le_bytes([bytes[20], bytes[21]]), 1);
        assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 1);
        assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 8000);
        assert_eq!(u32::from_le_bytes(bytes[28..32].try_into().unwrap()), 16000);
        assert_eq!(u16::from_le_bytes([bytes[34], bytes[35]]), 16);
        assert_eq!(&bytes[36..40], b"data");
        assert_eq!(u32::from_le_bytes(bytes[40..44].try_into().unwrap()), 8);
        assert_eq!(&bytes[44..48], &[0, 0, 1, 0]);
        assert_eq!(&bytes[48..52], &[0xff, 0xff, 0xff, 0x7f]);
    }
}
