//! Reading a `sqrl://` URL from a picture of a QR code.

use std::path::Path;

use crate::failure::{Failure, Kind};

/// Decodes every QR code in the image and returns the first `sqrl://` URL.
pub(crate) fn read_sqrl_url(path: &Path) -> Result<String, Failure> {
    let image = image::open(path)
        .map_err(|e| Failure::new(Kind::Input, format!("cannot read {}: {e}", path.display())))?;
    sqrl_url_in(image).map_err(|e| match e {
        QrError::NoCode => Failure::new(
            Kind::Input,
            format!("no QR code found in {}", path.display()),
        ),
        QrError::Other(message) => Failure::new(Kind::Input, message),
    })
}

/// [`read_sqrl_url`] for a picture's bytes (PNG or JPEG), as `sqrl check` reads a login
/// page's QR code image.
pub(crate) fn sqrl_url_in_bytes(bytes: &[u8]) -> Result<String, String> {
    let image = image::load_from_memory(bytes).map_err(|e| format!("not a picture: {e}"))?;
    sqrl_url_in(image).map_err(|e| match e {
        QrError::NoCode => "no QR code in the picture".to_owned(),
        QrError::Other(message) => message.to_owned(),
    })
}

enum QrError {
    NoCode,
    Other(&'static str),
}

fn sqrl_url_in(image: image::DynamicImage) -> Result<String, QrError> {
    let image = image.to_luma8();
    let (width, height) = image.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width as usize, height as usize, |x, y| {
            image.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    if grids.is_empty() {
        return Err(QrError::NoCode);
    }
    let mut seen_other = false;
    for grid in grids {
        if let Ok((_, content)) = grid.decode() {
            if content
                .get(..7)
                .is_some_and(|s| s.eq_ignore_ascii_case("sqrl://"))
            {
                return Ok(content);
            }
            seen_other = true;
        }
    }
    let message = if seen_other {
        "the QR code does not hold a sqrl:// link"
    } else {
        "the QR code could not be decoded"
    };
    Err(QrError::Other(message))
}
