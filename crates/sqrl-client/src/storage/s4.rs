//! The S4 container (`sqrldata`): typed blocks, binary and base64url text forms, and the
//! AES-256-GCM framing of each block (`spec/keys.md` §9).

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use zeroize::Zeroize;

use crate::error::IdentityError;
use crate::keys::{EnScryptKey, Ilk, Imk, Iuk, LOG2_N, MAX_ITERATIONS};

/// Binary header.
pub const BINARY_HEADER: &[u8; 8] = b"sqrldata";
/// Text header: base64url of the blocks follows.
pub const TEXT_HEADER: &[u8; 8] = b"SQRLDATA";
/// Largest container accepted.
pub const MAX_LEN: usize = 64 * 1024;

/// Password block length.
pub const PASSWORD_BLOCK_LEN: usize = 125;
/// Rescue-code block length.
pub const RESCUE_BLOCK_LEN: usize = 73;

/// How a key was stretched with EnScrypt: stored beside the ciphertext it protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StretchParams {
    /// 16-byte random salt.
    pub salt: [u8; 16],
    /// scrypt log2 N (always 9 for SQRL).
    pub log2_n: u8,
    /// EnScrypt iteration count.
    pub iterations: u32,
}

/// User settings stored (in the clear, authenticated) in the password block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Option flags (bit 0x0004 = request SQRL-only, 0x0008 = request hardlock, ...).
    pub options: u16,
    /// QuickPass hint length in characters.
    pub hint_length: u8,
    /// Seconds of EnScrypt when re-protecting with the password.
    pub verify_seconds: u8,
    /// Idle minutes before the hint is discarded.
    pub idle_minutes: u16,
}

impl Settings {
    /// Option flag: ask sites to allow only SQRL login (`opt=sqrlonly`).
    pub const SQRL_ONLY: u16 = 0x0004;
    /// Option flag: ask sites to disable other recovery (`opt=hardlock`).
    pub const HARDLOCK: u16 = 0x0008;
    /// Option flag: warn when the site's IP check fails.
    pub const WARN_MITM: u16 = 0x0010;
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            options: 0x01F3,
            hint_length: 4,
            verify_seconds: 5,
            idle_minutes: 15,
        }
    }
}

/// Block type 1: IMK and ILK encrypted under the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordBlock {
    /// AES-GCM IV (random per write).
    pub iv: [u8; 12],
    /// EnScrypt parameters of the password.
    pub stretch: StretchParams,
    /// Settings (authenticated, not encrypted).
    pub settings: Settings,
    /// Encrypted IMK ‖ ILK.
    pub ciphertext: [u8; 64],
    /// GCM tag.
    pub tag: [u8; 16],
}

/// Block type 2: the IUK encrypted under the rescue code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RescueBlock {
    /// EnScrypt parameters of the rescue code.
    pub stretch: StretchParams,
    /// Encrypted IUK.
    pub ciphertext: [u8; 32],
    /// GCM tag.
    pub tag: [u8; 16],
}

/// Block type 3: up to four previous IUKs, newest first, encrypted under the current IMK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousBlock {
    /// Edition, incremented per re-key; `None` for the old 4-byte-header layout.
    pub edition: Option<u16>,
    /// Encrypted previous IUKs.
    pub ciphertext: Vec<[u8; 32]>,
    /// GCM tag.
    pub tag: [u8; 16],
}

/// A block of a type this version does not use, kept byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBlock {
    /// Block type.
    pub block_type: u16,
    /// The whole block, header included.
    pub bytes: Vec<u8>,
}

/// A parsed S4 container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S4 {
    /// Type 1.
    pub password: Option<PasswordBlock>,
    /// Type 2.
    pub rescue: Option<RescueBlock>,
    /// Type 3.
    pub previous: Option<PreviousBlock>,
    /// Other types, in the order read.
    pub other: Vec<RawBlock>,
}

// ---- little-endian readers (bounds-checked) ------------------------------------------------

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn array_at<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at + N)?.try_into().ok()
}

/// Why a block with a huge iteration count is refused (the number is [`MAX_ITERATIONS`]).
const ITERATIONS_OVER_LIMIT: &str =
    "EnScrypt iteration count over 100000 (the most a client writes is a few ten thousand): a damaged or hostile file";

fn malformed(block_type: u16, reason: &'static str) -> IdentityError {
    IdentityError::S4Block { block_type, reason }
}

fn stretch_at(bytes: &[u8], at: usize, block_type: u16) -> Result<StretchParams, IdentityError> {
    let bad = || malformed(block_type, "truncated");
    let params = StretchParams {
        salt: array_at(bytes, at).ok_or_else(bad)?,
        log2_n: *bytes.get(at + 16).ok_or_else(bad)?,
        iterations: u32_at(bytes, at + 17).ok_or_else(bad)?,
    };
    if params.log2_n != LOG2_N {
        return Err(malformed(block_type, "scrypt N is not 512 (log2 N = 9)"));
    }
    if params.iterations == 0 {
        return Err(malformed(block_type, "zero EnScrypt iterations"));
    }
    if params.iterations > MAX_ITERATIONS {
        // Refused before any work: unlocking would run for days.
        return Err(malformed(block_type, ITERATIONS_OVER_LIMIT));
    }
    Ok(params)
}

fn write_stretch(out: &mut Vec<u8>, s: &StretchParams) {
    out.extend_from_slice(&s.salt);
    out.push(s.log2_n);
    out.extend_from_slice(&s.iterations.to_le_bytes());
}

// ---- AES-256-GCM ---------------------------------------------------------------------------

fn seal(
    key: &[u8; 32],
    iv: [u8; 12],
    aad: &[u8],
    data: &mut [u8],
) -> Result<[u8; 16], IdentityError> {
    let cipher = Aes256Gcm::new(&(*key).into());
    let tag = cipher
        .encrypt_in_place_detached(&Nonce::from(iv), aad, data)
        .map_err(|_| IdentityError::Encryption)?;
    Ok(tag.into())
}

fn open(key: &[u8; 32], iv: [u8; 12], aad: &[u8], data: &mut [u8], tag: [u8; 16]) -> bool {
    let cipher = Aes256Gcm::new(&(*key).into());
    cipher
        .decrypt_in_place_detached(&Nonce::from(iv), aad, data, &Tag::from(tag))
        .is_ok()
}

impl PasswordBlock {
    fn header(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(45);
        out.extend_from_slice(&(PASSWORD_BLOCK_LEN as u16).to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&self.iv);
        write_stretch(&mut out, &self.stretch);
        out.extend_from_slice(&self.settings.options.to_le_bytes());
        out.push(self.settings.hint_length);
        out.push(self.settings.verify_seconds);
        out.extend_from_slice(&self.settings.idle_minutes.to_le_bytes());
        out
    }

    fn parse(bytes: &[u8]) -> Result<Self, IdentityError> {
        let bad = || malformed(1, "truncated");
        if bytes.len() != PASSWORD_BLOCK_LEN {
            return Err(malformed(1, "length is not 125"));
        }
        if u16_at(bytes, 4) != Some(45) {
            return Err(malformed(1, "plaintext length is not 45"));
        }
        Ok(Self {
            iv: array_at(bytes, 6).ok_or_else(bad)?,
            stretch: stretch_at(bytes, 18, 1)?,
            settings: Settings {
                options: u16_at(bytes, 39).ok_or_else(bad)?,
                hint_length: *bytes.get(41).ok_or_else(bad)?,
                verify_seconds: *bytes.get(42).ok_or_else(bad)?,
                idle_minutes: u16_at(bytes, 43).ok_or_else(bad)?,
            },
            ciphertext: array_at(bytes, 45).ok_or_else(bad)?,
            tag: array_at(bytes, 109).ok_or_else(bad)?,
        })
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header();
        out.extend_from_slice(&self.ciphertext);
        out.extend_from_slice(&self.tag);
        out
    }

    /// Encrypts IMK and ILK under an EnScrypt key.
    pub fn seal(
        imk: &Imk,
        ilk: &Ilk,
        key: &EnScryptKey,
        stretch: StretchParams,
        iv: [u8; 12],
        settings: Settings,
    ) -> Result<Self, IdentityError> {
        let mut block = Self {
            iv,
            stretch,
            settings,
            ciphertext: [0; 64],
            tag: [0; 16],
        };
        let mut data = [0u8; 64];
        data[..32].copy_from_slice(imk.expose());
        data[32..].copy_from_slice(ilk.expose());
        block.tag = seal(key.expose(), iv, &block.header(), &mut data)?;
        block.ciphertext = data;
        Ok(block)
    }

    /// Decrypts IMK and ILK; `None` when the key is wrong or the block was altered.
    pub fn open(&self, key: &EnScryptKey) -> Option<(Imk, Ilk)> {
        let mut data = self.ciphertext;
        let ok = open(key.expose(), self.iv, &self.header(), &mut data, self.tag);
        let result = ok.then(|| {
            let imk: [u8; 32] = array_at(&data, 0).unwrap_or_default();
            let ilk: [u8; 32] = array_at(&data, 32).unwrap_or_default();
            (Imk::from_bytes(imk), Ilk::from_bytes(ilk))
        });
        data.zeroize();
        result
    }
}

impl RescueBlock {
    fn header(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(25);
        out.extend_from_slice(&(RESCUE_BLOCK_LEN as u16).to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        write_stretch(&mut out, &self.stretch);
        out
    }

    fn parse(bytes: &[u8]) -> Result<Self, IdentityError> {
        let bad = || malformed(2, "truncated");
        if bytes.len() != RESCUE_BLOCK_LEN {
            return Err(malformed(2, "length is not 73"));
        }
        Ok(Self {
            stretch: stretch_at(bytes, 4, 2)?,
            ciphertext: array_at(bytes, 25).ok_or_else(bad)?,
            tag: array_at(bytes, 57).ok_or_else(bad)?,
        })
    }

    /// The block's bytes (this is what the textual identity encodes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header();
        out.extend_from_slice(&self.ciphertext);
        out.extend_from_slice(&self.tag);
        out
    }

    /// Parses a lone type-2 block (from a textual identity).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        if u16_at(bytes, 2) != Some(2) || u16_at(bytes, 0) != Some(RESCUE_BLOCK_LEN as u16) {
            return Err(malformed(2, "not a rescue-code block"));
        }
        Self::parse(bytes)
    }

    /// Encrypts the IUK under an EnScrypt key (all-zero IV: the key is unique to this salt).
    pub fn seal(
        iuk: &Iuk,
        key: &EnScryptKey,
        stretch: StretchParams,
    ) -> Result<Self, IdentityError> {
        let mut block = Self {
            stretch,
            ciphertext: [0; 32],
            tag: [0; 16],
        };
        let mut data = *iuk.expose();
        block.tag = seal(key.expose(), [0; 12], &block.header(), &mut data)?;
        block.ciphertext = data;
        Ok(block)
    }

    /// Decrypts the IUK; `None` when the rescue code is wrong or the block was altered.
    pub fn open(&self, key: &EnScryptKey) -> Option<Iuk> {
        let mut data = self.ciphertext;
        let ok = open(key.expose(), [0; 12], &self.header(), &mut data, self.tag);
        let result = ok.then(|| Iuk::from_bytes(data));
        data.zeroize();
        result
    }
}

impl PreviousBlock {
    fn header(&self) -> Vec<u8> {
        let header_len = if self.edition.is_some() { 6 } else { 4 };
        let len = header_len + 32 * self.ciphertext.len() + 16;
        let mut out = Vec::with_capacity(header_len);
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.extend_from_slice(&3u16.to_le_bytes());
        if let Some(edition) = self.edition {
            out.extend_from_slice(&edition.to_le_bytes());
        }
        out
    }

    fn parse(bytes: &[u8]) -> Result<Self, IdentityError> {
        let len = bytes.len();
        // Current layout: 6-byte header (with edition); old layout: 4-byte header.
        let (edition, header_len) = if len >= 22 && (len - 22).is_multiple_of(32) {
            (
                Some(u16_at(bytes, 4).ok_or_else(|| malformed(3, "truncated"))?),
                6,
            )
        } else if len >= 20 && (len - 20).is_multiple_of(32) {
            (None, 4)
        } else {
            return Err(malformed(3, "length fits neither layout"));
        };
        let count = (len - header_len - 16) / 32;
        if !(1..=4).contains(&count) {
            return Err(malformed(3, "must hold 1 to 4 previous keys"));
        }
        let ciphertext = (0..count)
            .map(|i| array_at(bytes, header_len + 32 * i).ok_or_else(|| malformed(3, "truncated")))
            .collect::<Result<Vec<[u8; 32]>, IdentityError>>()?;
        Ok(Self {
            edition,
            ciphertext,
            tag: array_at(bytes, len - 16).ok_or_else(|| malformed(3, "truncated"))?,
        })
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header();
        for key in &self.ciphertext {
            out.extend_from_slice(key);
        }
        out.extend_from_slice(&self.tag);
        out
    }

    /// Encrypts up to four previous IUKs (newest first) under the current IMK.
    pub fn seal(previous: &[Iuk], imk: &Imk, edition: u16) -> Result<Self, IdentityError> {
        if !(1..=4).contains(&previous.len()) {
            return Err(malformed(3, "must hold 1 to 4 previous keys"));
        }
        let mut block = Self {
            edition: Some(edition),
            ciphertext: vec![[0; 32]; previous.len()],
            tag: [0; 16],
        };
        let mut data: Vec<u8> = previous.iter().flat_map(|k| *k.expose()).collect();
        block.tag = seal(imk.expose(), [0; 12], &block.header(), &mut data)?;
        for (slot, chunk) in block.ciphertext.iter_mut().zip(data.chunks(32)) {
            slot.copy_from_slice(chunk);
        }
        data.zeroize();
        Ok(block)
    }

    /// Decrypts the previous IUKs (newest first); `None` when the IMK is wrong.
    pub fn open(&self, imk: &Imk) -> Option<Vec<Iuk>> {
        let mut data: Vec<u8> = self.ciphertext.iter().flatten().copied().collect();
        let ok = open(imk.expose(), [0; 12], &self.header(), &mut data, self.tag);
        let result = ok.then(|| {
            data.chunks(32)
                .map(|c| Iuk::from_bytes(c.try_into().unwrap_or([0; 32])))
                .collect()
        });
        data.zeroize();
        result
    }
}

impl S4 {
    /// Parses any stored form: `sqrldata` + binary blocks, `SQRLDATA` + base64url (whitespace
    /// ignored), or header-less base64url blocks (a rescue-code-only export).
    pub fn parse(input: &[u8]) -> Result<Self, IdentityError> {
        if input.len() > MAX_LEN * 2 {
            return Err(IdentityError::S4Container("file too large"));
        }
        let decode_text = |text: &[u8]| -> Result<Vec<u8>, IdentityError> {
            let compact: String = text
                .iter()
                .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                .map(|&b| char::from(b))
                .collect();
            sqrl_proto::b64::decode(&compact)
                .map_err(|_| IdentityError::S4Container("text form is not base64url"))
        };
        let blocks = match input.get(..8) {
            Some(h) if h == BINARY_HEADER => input.get(8..).unwrap_or_default().to_vec(),
            Some(h) if h == TEXT_HEADER => decode_text(input.get(8..).unwrap_or_default())?,
            _ => decode_text(input)
                .map_err(|_| IdentityError::S4Container("no sqrldata or SQRLDATA header"))?,
        };
        Self::parse_blocks(&blocks)
    }

    fn parse_blocks(bytes: &[u8]) -> Result<Self, IdentityError> {
        if bytes.is_empty() {
            return Err(IdentityError::S4Container("no blocks"));
        }
        if bytes.len() > MAX_LEN {
            return Err(IdentityError::S4Container("file too large"));
        }
        let mut s4 = S4::default();
        let mut at = 0;
        while at < bytes.len() {
            let (len, block_type) = match (u16_at(bytes, at), u16_at(bytes, at + 2)) {
                (Some(len), Some(t)) => (usize::from(len), t),
                _ => return Err(IdentityError::S4Container("truncated block header")),
            };
            if len < 4 {
                return Err(IdentityError::S4Container("block length below 4"));
            }
            let block = bytes
                .get(at..at + len)
                .ok_or(IdentityError::S4Container("block runs past the end"))?;
            let duplicate = || IdentityError::S4DuplicateBlock { block_type };
            match block_type {
                1 if s4.password.is_some() => return Err(duplicate()),
                2 if s4.rescue.is_some() => return Err(duplicate()),
                3 if s4.previous.is_some() => return Err(duplicate()),
                1 => s4.password = Some(PasswordBlock::parse(block)?),
                2 => s4.rescue = Some(RescueBlock::parse(block)?),
                3 => s4.previous = Some(PreviousBlock::parse(block)?),
                _ => s4.other.push(RawBlock {
                    block_type,
                    bytes: block.to_vec(),
                }),
            }
            at += len;
        }
        Ok(s4)
    }

    /// The blocks without header: types 1, 2, 3, then other types in the order read.
    pub fn blocks(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(b) = &self.password {
            out.extend(b.to_bytes());
        }
        if let Some(b) = &self.rescue {
            out.extend(b.to_bytes());
        }
        if let Some(b) = &self.previous {
            out.extend(b.to_bytes());
        }
        for raw in &self.other {
            out.extend_from_slice(&raw.bytes);
        }
        out
    }

    /// The binary file: `sqrldata` followed by the blocks.
    pub fn to_binary(&self) -> Vec<u8> {
        let mut out = BINARY_HEADER.to_vec();
        out.extend(self.blocks());
        out
    }

    /// The text file: `SQRLDATA` followed by base64url of the blocks.
    pub fn to_text(&self) -> String {
        format!("SQRLDATA{}", sqrl_proto::b64::encode(self.blocks()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files written before the edition field existed have a 4-byte type-3 header whose 4
    /// bytes are the AAD (148 bytes for four keys). They must still be read and opened.
    #[test]
    fn reads_the_old_type3_layout() {
        let imk = Imk::from_bytes([7; 32]);
        let previous: Vec<Iuk> = (1..=4u8).map(|i| Iuk::from_bytes([i; 32])).collect();
        let mut old = PreviousBlock {
            edition: None,
            ciphertext: vec![[0; 32]; 4],
            tag: [0; 16],
        };
        let mut data: Vec<u8> = previous.iter().flat_map(|k| *k.expose()).collect();
        old.tag = seal(imk.expose(), [0; 12], &old.header(), &mut data).unwrap();
        for (slot, chunk) in old.ciphertext.iter_mut().zip(data.chunks(32)) {
            slot.copy_from_slice(chunk);
        }
        let bytes = old.to_bytes();
        assert_eq!(bytes.len(), 148);
        assert_eq!(&bytes[..4], &[148, 0, 3, 0]);

        let parsed = S4::parse_blocks(&bytes).unwrap().previous.unwrap();
        assert_eq!(parsed.edition, None);
        assert_eq!(parsed.open(&imk).unwrap(), previous);
        assert!(parsed.open(&Imk::from_bytes([8; 32])).is_none());

        // The current layout of the same keys is 150 bytes and has the edition.
        let new = PreviousBlock::seal(&previous, &imk, 3).unwrap();
        let bytes = new.to_bytes();
        assert_eq!(bytes.len(), 150);
        let parsed = S4::parse_blocks(&bytes).unwrap().previous.unwrap();
        assert_eq!(parsed.edition, Some(3));
        assert_eq!(parsed.open(&imk).unwrap(), previous);
    }

    #[test]
    fn rejects_bad_block_lengths() {
        for bytes in [
            &[3u8, 0, 1, 0][..],
            &[50, 0, 3, 0],
            &[10, 0, 1, 0, 0, 0, 0, 0, 0, 0],
            &[0, 0, 9, 9],
        ] {
            assert!(S4::parse_blocks(bytes).is_err(), "{bytes:?}");
        }
    }
}
