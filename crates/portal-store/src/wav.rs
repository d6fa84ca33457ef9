//! Audio on disk (recordings and voice messages): 8 kHz mono 16-bit PCM WAV, written durably under a random
//! name before the database row that names them, and read back.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{Result, StoreError};
use crate::sealing::fill_random;

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

/// Writes `samples` as a new WAV file in `dir` under a fresh random name (`<24 hex digits>.wav`, through
/// `<same>.tmp`) and returns the name. The file is complete and durable when this returns: the caller inserts
/// the row naming it afterwards, and removes the file if that fails.
pub(crate) fn write_new(dir: &Path, samples: &[i16]) -> Result<String> {
    let mut name = [0u8; 12];
    fill_random(&mut name)?;
    let name: String = name.iter().map(|b| format!("{b:02x}")).collect();
    let file_name = format!("{name}.wav");
    write_durably(dir, &format!("{name}.tmp"), &file_name, &encode(samples))?;
    Ok(file_name)
}

/// The samples of a WAV file this crate wrote (the canonical 44-byte header, 8 kHz mono 16-bit PCM).
pub(crate) fn read(path: &Path) -> Result<Vec<i16>> {
    let bytes = fs::read(path).map_err(StoreError::io(path))?;
    decode(&bytes).ok_or_else(|| StoreError::Corrupt(format!("{} is not our WAV", path.display())))
}

fn decode(bytes: &[u8]) -> Option<Vec<i16>> {
    let header = bytes.get(..HEADER_LEN)?;
    let data_len = u32::from_le_bytes(header[40..44].try_into().ok()?) as usize;
    let well_formed = &header[0..4] == b"RIFF"
        && &header[8..16] == b"WAVEfmt "
        && header[20..24] == [1, 0, 1, 0]
        && header[24..28] == SAMPLE_RATE.to_le_bytes()
        && header[34..36] == [16, 0]
        && &header[36..40] == b"data"
        && bytes.len() == HEADER_LEN + data_len
        && data_len.is_multiple_of(2);
    well_formed.then(|| {
        bytes[HEADER_LEN..]
            .chunks_exact(2)
            .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
            .collect()
    })
}

/// Writes `bytes` to `temp`, fsyncs it, renames it to `path` and fsyncs the directory, so after a crash the
/// file is either absent or complete.
fn write_durably(dir: &Path, temp_name: &str, final_name: &str, bytes: &[u8]) -> Result<()> {
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

    #[test]
    fn what_is_encoded_decodes_and_a_torn_file_does_not() {
        let samples = [0, 1, -1, i16::MAX, i16::MIN];
        let bytes = encode(&samples);
        assert_eq!(decode(&bytes).unwrap(), samples);
        assert_eq!(decode(&bytes[..bytes.len() - 2]), None);
        assert_eq!(decode(&bytes[..20]), None);
        assert_eq!(decode(&encode(&[])).unwrap(), Vec::<i16>::new());
    }
}
