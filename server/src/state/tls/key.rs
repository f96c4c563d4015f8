//! The TLS private key file, decrypted with `tls-key-file-pass` when it is encrypted, as
//! OpenSSL's PEM password callback does for Redis: PKCS#8 `ENCRYPTED PRIVATE KEY` (PBES2 with
//! PBKDF2 or scrypt, AES-CBC or 3DES: what OpenSSL 3 writes by default) and the legacy
//! `Proc-Type: 4,ENCRYPTED` PEM (`openssl rsa -aes256 -traditional`: MD5 key derivation,
//! AES-*-CBC or DES-EDE3-CBC). An unencrypted key is read as before and the password ignored,
//! as OpenSSL ignores it.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
use md5::{Digest, Md5};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};

/// The private key in `path` (the first one in the file), decrypted with `pass` if it is
/// encrypted. Errors name the file, as Redis's "Failed to load private key: FILE: reason".
pub fn load(path: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    let fail = |e: &dyn std::fmt::Display| format!("Failed to load private key: {path}: {e}");
    let text = std::fs::read(path).map_err(|e| fail(&e))?;
    match first_key_block(&text) {
        Some(block) if block.encrypted() => {
            if pass.is_empty() {
                return Err(fail(
                    &"the key is encrypted and no password is set (tls-key-file-pass)",
                ));
            }
            decrypt(&block, pass.as_bytes()).map_err(|e| fail(&e))
        }
        _ => PrivateKeyDer::from_pem_slice(&text).map_err(|e| fail(&e)),
    }
}

/// One PEM block: its label, its `Name: value` headers (legacy encryption) and base64 body.
struct Block<'a> {
    label: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: String,
}

impl Block<'_> {
    fn encrypted(&self) -> bool {
        self.label == "ENCRYPTED PRIVATE KEY"
            || self
                .headers
                .iter()
                .any(|(k, v)| *k == "Proc-Type" && v.trim().ends_with("ENCRYPTED"))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim())
    }
}

const KEY_LABELS: &[&str] = &[
    "ENCRYPTED PRIVATE KEY",
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
];

/// The first private-key block of a PEM file (certificates and parameters before it skipped).
fn first_key_block(text: &[u8]) -> Option<Block<'_>> {
    let text = std::str::from_utf8(text).ok()?;
    let mut lines = text.lines().map(str::trim_end);
    loop {
        let line = lines.next()?;
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        if !KEY_LABELS.contains(&label) {
            continue;
        }
        let mut block = Block {
            label,
            headers: Vec::new(),
            body: String::new(),
        };
        for line in lines.by_ref() {
            if line.starts_with("-----END ") {
                return Some(block);
            }
            match line.split_once(':') {
                Some((k, v)) if block.body.is_empty() => block.headers.push((k.trim(), v)),
                _ => block.body.extend(line.split_whitespace()),
            }
        }
        return None;
    }
}

fn decrypt(block: &Block<'_>, pass: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    use base64ct::Encoding;
    let der = base64ct::Base64::decode_vec(&block.body).map_err(|e| format!("bad PEM: {e}"))?;
    if block.label == "ENCRYPTED PRIVATE KEY" {
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
            .map_err(|e| format!("bad PKCS#8 structure: {e}"))?;
        // A wrong password shows as bad padding (OpenSSL's "bad decrypt"), which pkcs5 0.7
        // reports as EncryptFailed.
        let doc = info.decrypt(pass).map_err(|e| match e {
            pkcs8::Error::EncryptedPrivateKey(
                pkcs8::pkcs5::Error::DecryptFailed | pkcs8::pkcs5::Error::EncryptFailed,
            ) => "bad decrypt (wrong tls-key-file-pass?)".to_string(),
            e => format!("cannot decrypt: {e}"),
        })?;
        return Ok(PrivatePkcs8KeyDer::from(doc.as_bytes().to_vec()).into());
    }
    let plain = decrypt_legacy(block, der, pass)?;
    Ok(match block.label {
        "RSA PRIVATE KEY" => PrivatePkcs1KeyDer::from(plain).into(),
        "EC PRIVATE KEY" => PrivateSec1KeyDer::from(plain).into(),
        _ => PrivatePkcs8KeyDer::from(plain).into(),
    })
}

/// The legacy `Proc-Type: 4,ENCRYPTED` form: `DEK-Info: CIPHER,IV`, the key from OpenSSL's
/// `EVP_BytesToKey` (MD5, one round, salt = the IV's first 8 bytes).
fn decrypt_legacy(block: &Block<'_>, mut der: Vec<u8>, pass: &[u8]) -> Result<Vec<u8>, String> {
    let dek = block
        .header("DEK-Info")
        .ok_or("encrypted PEM without DEK-Info")?;
    let (cipher, iv_hex) = dek.split_once(',').ok_or("bad DEK-Info")?;
    let iv = hex(iv_hex.trim()).ok_or("bad DEK-Info IV")?;
    let key_len = match cipher {
        "AES-128-CBC" => 16,
        "AES-192-CBC" => 24,
        "AES-256-CBC" => 32,
        "DES-EDE3-CBC" => 24,
        other => {
            return Err(format!(
                "legacy PEM encryption {other} is not supported (AES-128/192/256-CBC and \
                 DES-EDE3-CBC are; or convert with `openssl pkcs8 -topk8 -v2 aes256`)"
            ))
        }
    };
    let block_len = if cipher.starts_with("AES") { 16 } else { 8 };
    if iv.len() != block_len {
        return Err("bad DEK-Info IV".into());
    }
    let key = bytes_to_key(pass, &iv[..8], key_len);
    let bad = |_| "bad decrypt (wrong tls-key-file-pass?)".to_string();
    let n = match key_len {
        _ if block_len == 8 => cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
            .map_err(|e| e.to_string())?
            .decrypt_padded_mut::<Pkcs7>(&mut der)
            .map_err(bad)?
            .len(),
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, &iv)
            .map_err(|e| e.to_string())?
            .decrypt_padded_mut::<Pkcs7>(&mut der)
            .map_err(bad)?
            .len(),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(&key, &iv)
            .map_err(|e| e.to_string())?
            .decrypt_padded_mut::<Pkcs7>(&mut der)
            .map_err(bad)?
            .len(),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, &iv)
            .map_err(|e| e.to_string())?
            .decrypt_padded_mut::<Pkcs7>(&mut der)
            .map_err(bad)?
            .len(),
    };
    der.truncate(n);
    Ok(der)
}

/// OpenSSL's `EVP_BytesToKey(cipher, md5, salt, pass, count = 1)`: D_i = MD5(D_{i-1} || pass ||
/// salt), concatenated until `len` bytes.
fn bytes_to_key(pass: &[u8], salt: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    let mut prev: Vec<u8> = Vec::new();
    while out.len() < len {
        let mut h = Md5::new();
        h.update(&prev);
        h.update(pass);
        h.update(salt);
        prev = h.finalize().to_vec();
        out.extend_from_slice(&prev);
    }
    out.truncate(len);
    out
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -P -md md5 -pass pass:secret -S 0001020304050607`
        // printed key=035FB814...
        let key = bytes_to_key(b"secret", &[0, 1, 2, 3, 4, 5, 6, 7], 32);
        assert_eq!(
            hex("035FB8145B73CF111570DC936112BE9C375A5D3D8B915BC213BDBEF9DBFB7851"),
            Some(key)
        );
    }

    #[test]
    fn finds_the_first_key_block_and_its_headers() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n\
            -----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
            DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nQUJD\nREVG\n\
            -----END RSA PRIVATE KEY-----\n";
        let b = first_key_block(pem).expect("block");
        assert_eq!(b.label, "RSA PRIVATE KEY");
        assert!(b.encrypted());
        assert_eq!(
            b.header("DEK-Info"),
            Some("AES-256-CBC,00112233445566778899AABBCCDDEEFF")
        );
        assert_eq!(b.body, "QUJDREVG");
        assert!(first_key_block(b"-----BEGIN PRIVATE KEY-----\nQUJD\n").is_none());
    }
}
